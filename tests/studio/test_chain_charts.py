"""The Chain, Charts and Settings pages over HTTP on both backends: the numbers a page shows are
the ones the modules' functions return; write-mode edits go through those functions."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, time, timedelta

import chaindb
from chaindb import assets, core, creators, ledger
from tests.studio.conftest import http, password_of, serving
from tests.studio.test_pages import get_ok, links

CELLS = re.compile(r"<td>([^<]*)</td><td class=\"number\">([^<]*)</td>")


def chart_numbers(page: str, chart_id: str) -> dict[str, str]:
    """A chart's table: label -> the value as shown."""
    start = page.index(f'id="{chart_id}-data"')
    table = page[start : page.index("</table>", start)]
    return {label: html.unescape(value) for label, value in CELLS.findall(table)}


def test_the_chain_page_shows_transactions_events_and_the_sync_log(studio_url):
    password = password_of(studio_url)
    with chaindb.connect(studio_url) as db:
        recent = core.get_recent_blockchain_transactions(db, limit=50)
        stats = core.get_blockchain_transaction_stats(db)
        logs = creators.get_recent_logs(db, hours=24 * 7, limit=100)
    assert recent and logs  # the demo sent transactions and synced the oracle
    with serving(studio_url) as base, http(base) as client:
        page = get_ok(client, "/chain", password)
        for tx in recent:
            assert tx.transaction_hash[:18] in page
        assert f'<th>total</th><td class="number">{stats["total"]}</td>' in page
        for log in logs:
            assert f'<td class="number">{log.id}</td><td>{log.started_at}</td>' in page
        for href in links(page, "/chain/tx?"):
            get_ok(client, href, password)


def test_a_transaction_shows_its_life_effects_events_and_reorgs(studio_url):
    with chaindb.connect(studio_url) as db:
        reorgs = core.get_security_events(db, event_type="chain_reorg")
        final = [tx for tx in core.get_recent_blockchain_transactions(db, limit=100) if tx.is_final]
    assert reorgs and final  # the demo's chain story heals a reorg
    reorged_hash = reorgs[0].description.split(":")[0]
    with serving(studio_url) as base, http(base) as client:
        page = client.get("/chain/tx", params={"hash": reorged_hash}).text
        life = page[page.index('id="life"') : page.index("</ol>")]
        assert '<li class="bad"><strong>reorged</strong>' in life
        assert '<li class="done"><strong>final</strong>' in life
        tx = final[0]
        shown = client.get("/chain/tx", params={"hash": tx.transaction_hash}).text
        assert f'<td id="confirmations">{tx.confirmations}</td>' in shown
        missing = client.get("/chain/tx", params={"hash": "0x" + "ab" * 32})
        assert missing.status_code == 404
        assert client.get("/chain/tx", params={"hash": "nope"}).status_code == 400


def test_charts_show_the_numbers_the_modules_return(studio_url):
    password = password_of(studio_url)
    today = datetime.now(UTC).date()
    with chaindb.connect(studio_url) as db:
        mira = creators.get_creator_of_user(db, "mira")
        board = creators.creator_dashboard(db, mira.id, days=30)
        batches = assets.get_batch_statistics(db, since=today - timedelta(days=29))
        issued = ledger.get_points_statistics(db)["total_issued"]
        midnight = datetime.combine(today + timedelta(days=1), time.min, tzinfo=UTC)
        sync = creators.get_sync_stats(db, 24, now=midnight)  # today's window
    with serving(studio_url) as base, http(base) as client:
        page = get_ok(client, f"/charts?creator={mira.id}", password)
    assert page.count("<svg") >= 8
    plays = chart_numbers(page, "creator-plays")
    for day in board.days:
        assert plays[str(day.day)] == str(day.plays)
    assert sum(int(value) for value in plays.values()) == board.plays_in_period > 0
    revenue = chart_numbers(page, "creator-revenue")
    assert revenue[f"{today:%Y-%m}"].startswith(f"{board.revenue.total_wei} (")
    shown_batches = chart_numbers(page, "batches")
    for day in batches:
        assert shown_batches[str(day.date)] == str(day.total_batches)
    points = chart_numbers(page, "points-issued")
    assert sum(int(value) for value in points.values()) == issued  # all issued this month
    assert sync.success_rate is not None  # the demo's syncs settled
    rate = chart_numbers(page, "sync-rate")[str(today)]
    assert rate == f"{round(sync.success_rate * 100, 2)}%"


def test_a_wallets_costs_are_the_seeds_cost_query(studio_url):
    with chaindb.connect(studio_url) as db:
        wallet = assets.search_assets(db, "school")[0].owner_address  # alice's
        costs = assets.daily_costs(db, wallet, days=30)
    assert costs
    with serving(studio_url) as base, http(base) as client:
        page = client.get("/charts", params={"wallet": wallet}).text
    shown = chart_numbers(page, "wallet-cost")
    for day in costs:
        assert shown[str(day.date)] == str(day.total_cost)
    assert chart_numbers(page, "wallet-operations")[str(costs[0].date)] == str(costs[0].operations)


def test_charts_refuse_a_bad_range_or_wallet(studio_url):
    with serving(studio_url) as base, http(base) as client:
        refused = client.get("/charts?days=0")
        assert refused.status_code == 400 and "days" in refused.text
        assert client.get("/charts?wallet=nope").status_code == 400


def test_write_mode_sets_a_setting_and_refuses_a_bad_key(studio_url):
    with serving(studio_url, write=True) as base, http(base) as client:
        saved = client.post("/settings", data={"key": "studio.banner", "value": "hello"})
        assert saved.status_code == 303
        assert "studio.banner" in client.get("/settings").text
        with chaindb.connect(studio_url) as db:
            count = len(core.list_settings(db))
        refused = client.post("/settings", data={"key": "9 bad key", "value": "x"})
        assert refused.status_code == 400 and "must be a letter" in html.unescape(refused.text)
    with chaindb.connect(studio_url) as db:
        assert core.get_setting(db, "studio.banner") == "hello"
        assert len(core.list_settings(db)) == count  # the refused one wrote nothing


def test_write_mode_posts_and_voids_holds_through_the_ledger(studio_url):
    with chaindb.connect(studio_url) as db:
        held = [
            ledger.transfer(
                db,
                debit="system:issuance",
                credit="user:bob",
                amount=5,
                kind="claimed",
                pending=True,
            )
            for _ in range(2)
        ]
        before = ledger.get_balance(db, "user:bob").posted
    with serving(studio_url, write=True) as base, http(base) as client:
        page = client.get(f"/ledger/transfers/{held[0].id}").text
        assert "post-hold" in page and "void-hold" in page
        too_much = client.post(f"/ledger/transfers/{held[0].id}/post", data={"amount": "6"})
        assert too_much.status_code == 400 and 'id="refusal"' in too_much.text
        posted = client.post(f"/ledger/transfers/{held[0].id}/post", data={"amount": ""})
        assert posted.status_code == 303
        voided = client.post(f"/ledger/transfers/{held[1].id}/void")
        assert voided.status_code == 303
        again = client.post(f"/ledger/transfers/{held[1].id}/void")
        assert again.status_code == 400
    with serving(studio_url) as base, http(base) as client:
        assert client.post(f"/ledger/transfers/{held[0].id}/void").status_code == 403
    with chaindb.connect(studio_url) as db:
        assert ledger.get_balance(db, "user:bob").posted == before + 5
        assert ledger.get_balance(db, "user:bob").held == 0
        ledger.transfer(db, debit="user:bob", credit="system:burn", amount=5, kind="burned_usage")


def test_write_mode_revokes_a_grant_only_for_its_owner(studio_url):
    with chaindb.connect(studio_url) as db:
        school = assets.search_assets(db, "school")[0]  # alice's, in the demo
        bob = assets.search_assets(db, "recipe")[0].owner_address  # alice gave it to bob
        grant = assets.grant_access(
            db, asset_id=school.asset_id, owner_address=school.owner_address, grantee_address=bob
        )
    url = f"/assets/grants/{grant.id}/revoke"
    with serving(studio_url, write=True) as base, http(base) as client:
        row = client.get(f"/tables/access_grants/row?key=[{grant.id}]").text
        assert 'class="revoke"' in row
        refused = client.post(url, data={"owner": bob})  # not the asset's owner
        assert refused.status_code == 400 and 'id="refusal"' in refused.text
        with chaindb.connect(studio_url) as db:
            assert grant.id in [g.id for g in assets.get_grants(db, grantee_address=bob)]
        assert client.post(url, data={"owner": school.owner_address}).status_code == 303
    with chaindb.connect(studio_url) as db:
        assert grant.id not in [g.id for g in assets.get_grants(db, grantee_address=bob)]
