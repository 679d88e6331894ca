"""The studio's pages over HTTP (a real server, httpx), on both backends, with the demo's data."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest

import chaindb
from chaindb import ledger
from chaindb.errors import ConfigError
from chaindb.models import all_tables
from chaindb.studio import required_token
from tests.studio.conftest import BULK_TRANSFERS, http, password_of, serving

LINK = re.compile(r'href="([^"]+)"')
ROW_LINK = re.compile(r'class="open" href="([^"]+)"')  # each row's own link, first in its line


def links(page: str, prefix: str) -> list[str]:
    return [html.unescape(href) for href in LINK.findall(page) if href.startswith(prefix)]


def get_ok(client: httpx.Client, path: str, password: str | None) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.text[:2000])
    if password:
        assert password not in response.text, path
    return response.text


def test_every_page_opens_and_none_shows_the_password(studio_url):
    password = password_of(studio_url)
    with serving(studio_url) as base, http(base, follow_redirects=True) as client:
        index = get_ok(client, "/tables", password)
        for name in all_tables():
            assert f'href="/tables/{name}"' in index
            page = get_ok(client, f"/tables/{name}", password)
            for row in links(page, f"/tables/{name}/row")[:1]:
                get_ok(client, row, password)
        ledger_page = get_ok(client, "/ledger?asset=points", password)
        for account in links(ledger_page, "/ledger/account"):
            get_ok(client, account, password)
        eth = get_ok(client, "/ledger", password)
        for asset in links(eth, "/ledger?asset="):
            get_ok(client, asset, password)
        get_ok(client, "/ledger/transfers/1", password)
        migrations_page = get_ok(client, "/migrations", password)
        assert "up to date" in migrations_page and "core_0001" in migrations_page


def test_amounts_are_whole_integers_and_addresses_checksummed(studio_url):
    with serving(studio_url) as base, http(base) as client:
        transfers = client.get("/tables/ledger_transfers?_sort=amount&_desc=1&_size=5").text
        assert "3000000000000000000" in transfers  # the demo's 3 ETH, every digit
        assert "000000000000000000000000000000000000000000000000000000003" not in transfers
        wallets = client.get("/tables/user_wallet_addresses").text
        addresses = re.findall(r"0x[0-9a-fA-F]{40}\b", wallets)
        assert addresses and any(address != address.lower() for address in addresses)


def test_a_row_follows_its_foreign_keys_both_ways(studio_url):
    with serving(studio_url) as base, http(base) as client:
        alice = client.get('/tables/users/row?key=["alice"]').text
        assert "ledger_accounts.user_id" in alice and "user_wallet_addresses.user_id" in alice
        accounts = client.get(links(alice, "/tables/ledger_accounts?user_id=")[0]).text
        assert "alice" in accounts
        account_row = client.get(links(accounts, "/tables/ledger_accounts/row")[0]).text
        assert "user_id → users.id" in account_row
        assert "ledger_transfers.debit_account_id" in account_row


def test_a_filter_finds_the_rows_with_that_value_and_refuses_a_bad_one(studio_url):
    with serving(studio_url) as base, http(base) as client:
        found = client.get("/tables/ledger_transfers?idempotency_key=studio-bulk:41").text
        assert "studio-bulk:41" in found and "studio-bulk:42" not in found
        assert "1 rows on this page" in found
        refused = client.get("/tables/ledger_transfers?amount=lots")
        assert refused.status_code == 400 and "must be a whole number" in refused.text
        unknown = client.get("/tables/no_such_table")
        assert unknown.status_code == 404


@pytest.mark.parametrize("sort", [None, "amount", "idempotency_key", "reason"])
def test_keyset_pages_go_through_10000_rows_once_each(studio_url, sort):
    """Every row exactly once, in order, whatever the sort (reason is nullable: NULLs last)."""
    query = "_size=500" + (f"&_sort={sort}" if sort else "")
    seen: list[str] = []
    with serving(studio_url) as base, http(base) as client:
        url: str | None = f"/tables/ledger_transfers?{query}"
        for _page in range(100):
            page = client.get(url).text
            seen += [html.unescape(row) for row in ROW_LINK.findall(page)]
            following = links(page, "/tables/ledger_transfers?") if 'id="next-page"' in page else []
            url = following[-1] if following else None
            if url is None:
                break
    assert url is None
    assert len(seen) == len(set(seen)) >= BULK_TRANSFERS


def test_the_columns_an_index_serves_are_marked_and_a_slower_sort_is_stopped(studio_url):
    """A sort no index serves reads every row: past the studio's time limit (here 1 ms against
    10,000 transfers) the database stops it and the page says what is fast instead."""
    with serving(studio_url) as base, http(base) as client:
        heads = client.get("/tables/ledger_transfers?_size=1").text
    marked = re.findall(r">(\w+)</a><small>[^<]*· indexed</small>", heads)
    assert {"created_at", "debit_account_id", "idempotency_key"} <= set(marked)
    assert "amount" not in marked and "reason" not in marked
    with serving(studio_url, time_limit_s=0.001) as base, http(base) as client:
        slow = client.get("/tables/ledger_transfers?_sort=amount&_desc=1")
    assert slow.status_code == 503
    shown = html.unescape(slow.text)
    assert "longer than the studio's limit of 0.001 s" in shown
    assert "sort by an indexed column" in shown


def test_read_only_refuses_writes_and_its_transaction_cannot_write(studio_url):
    with serving(studio_url) as base, http(base) as client:
        form = {"debit": "system:issuance", "credit": "user:alice", "amount": "5"}
        refused = client.post("/ledger/transfer", data={**form, "kind": "earned_challenge"})
        assert refused.status_code == 403 and "read-only" in refused.text
    with chaindb.connect(studio_url) as db:
        assert ledger.get_balance(db, "user:alice").posted == 150  # the demo's, unchanged


def test_write_mode_saves_a_valid_transfer_and_refuses_an_invalid_one(studio_url):
    with chaindb.connect(studio_url) as db:
        before = ledger.get_balance(db, "user:alice").posted
    with serving(studio_url, write=True) as base, http(base) as client:
        form = {"asset": "points", "debit": "system:issuance", "credit": "user:alice"}
        saved = client.post("/ledger/transfer", data={**form, "amount": "7", "kind": "claimed"})
        assert saved.status_code == 303
        transfer = client.get(saved.headers["location"]).text
        assert "claimed" in transfer
        refused = client.post(
            "/ledger/transfer",
            data={**form, "credit": "system:issuance", "amount": "3", "kind": "claimed"},
        )
        assert refused.status_code == 400 and "must differ from debit" in html.unescape(
            refused.text
        )
        foreign = client.post(
            "/ledger/transfer",
            data={**form, "amount": "1", "kind": "claimed"},
            headers={"origin": "http://evil.example"},
        )
        assert foreign.status_code == 403
    with chaindb.connect(studio_url) as db:
        assert ledger.get_balance(db, "user:alice").posted == before + 7
        ledger.transfer(db, debit="user:alice", credit="system:burn", amount=7, kind="burned_usage")


def test_another_host_needs_a_token_and_requests_must_carry_it(studio_url):
    assert required_token(host="127.0.0.1", token=None) is None
    assert required_token(host="::1", token=None) is None
    with pytest.raises(ConfigError, match="CHAINDB_STUDIO_TOKEN"):
        required_token(host="0.0.0.0", token=None)
    with pytest.raises(ConfigError, match="at least 16"):
        required_token(host="0.0.0.0", token="short")
    token = "s3cret-token-of-the-studio"
    with serving(studio_url, token=token) as base, http(base) as client:
        assert client.get("/tables").status_code == 401
        entered = client.get(f"/tables?token={token}")
        assert entered.status_code == 303 and token not in entered.headers["location"]
        assert client.get("/tables").status_code == 200  # the cookie carries it now
        with http(base) as anonymous:  # no cookie: the header alone
            bearer = anonymous.get("/ledger", headers={"authorization": f"Bearer {token}"})
        assert bearer.status_code == 200


def test_a_page_reached_by_another_name_is_refused(studio_url):
    """DNS rebinding: a site whose name resolves to 127.0.0.1 gets nothing."""
    with serving(studio_url) as base, http(base) as client:
        assert client.get("/tables", headers={"host": "attacker.example"}).status_code == 421


def test_the_cli_says_how_to_install_the_extra_and_refuses_a_public_host_without_token(tmp_path):
    from tests.conftest import run_cli

    url = f"sqlite:///{tmp_path}/none.sqlite3"
    public = run_cli("studio", "--host", "0.0.0.0", env={"CHAINDB_URL": url})
    assert public.returncode == 1 and "CHAINDB_STUDIO_TOKEN" in public.stderr
    help_text = run_cli("studio", "--help")
    assert "--write" in help_text.stdout and json.dumps  # help lists the options


def test_a_row_keyed_by_a_day_opens_and_a_day_filter_is_typed(studio_url):
    """daily_stats' key is a date: PostgreSQL compares no date with text."""
    with serving(studio_url) as base, http(base) as client:
        page = client.get("/tables/daily_stats").text
        (row,) = links(page, "/tables/daily_stats/row")[:1]
        assert client.get(row).status_code == 200
        day = re.search(r"\d{4}-\d{2}-\d{2}", row).group(0)
        assert "1 rows on this page" in client.get(f"/tables/daily_stats?day={day}").text
        refused = client.get("/tables/daily_stats?day=someday")
        assert refused.status_code == 400 and "ISO 8601 day" in refused.text


def test_comparison_filters_keep_to_their_range_and_page_through(studio_url):
    with serving(studio_url) as base, http(base, follow_redirects=True) as client:
        form = {"_column": "amount", "_op": "gt", "_value": "9990", "idempotency_key__not": "x"}
        page = client.get("/tables/ledger_transfers", params=form)
        assert "amount__gt=9990" in str(page.url) and "amount &gt; 9990" in page.text
        bulk = set(re.findall(r"studio-bulk:(\d+)", page.text))
        assert bulk == {str(n) for n in range(9990, BULK_TRANSFERS)}  # amounts 9991..10000
        small = client.get("/tables/ledger_transfers?amount__lte=3&idempotency_key__gte=studio")
        assert set(re.findall(r"studio-bulk:(\d+)", small.text)) == {"0", "1", "2"}
        refused = client.get("/tables/ledger_transfers?amount__about=3")
        assert refused.status_code == 400


def test_amounts_of_a_ledger_asset_read_in_its_units_too(studio_url):
    with serving(studio_url) as base, http(base) as client:
        transfers = client.get("/tables/ledger_transfers?_sort=amount&_desc=1&_size=5").text
        assert '3000000000000000000</span><small class="scaled">3 ETH</small>' in transfers
        users = client.get("/tables/users").text
        assert 'class="scaled"' not in users
