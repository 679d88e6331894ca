"""`chaindb ledger …`, run as a user runs it: a real process on each backend, exact amounts."""

from __future__ import annotations

import csv
import io
import json

import pytest

from chaindb import ledger
from chaindb.types import UINT256_MAX
from tests.conftest import run_cli


def cli(db_url, *args):
    return run_cli(*args, env={"CHAINDB_URL": db_url})


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def one_line_error(result):
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("database: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def transfer(db_url, debit, credit, amount, kind, *extra):
    args = ["ledger", "transfer", "--debit", debit, "--credit", credit]
    return cli(db_url, *args, "--amount", str(amount), "--kind", kind, *extra)


def test_amounts_of_2_256_minus_1_and_past_2_63_round_trip_exactly(ledger_db, db_url):
    issued = ok(transfer(db_url, "system:issuance", "user:alice", UINT256_MAX, "deposit", "--json"))
    assert json.loads(issued.stdout)["amount"] == UINT256_MAX
    past_2_63 = 2**63 + 1
    ok(transfer(db_url, "user:alice", "user:bob", past_2_63, "transfer"))
    alice = json.loads(ok(cli(db_url, "ledger", "balance", "user:alice", "--json")).stdout)
    assert alice == {
        "account": "user:alice",
        "asset": "points",
        "posted": UINT256_MAX - past_2_63,
        "held": 0,
        "available": UINT256_MAX - past_2_63,
    }
    bob = ok(cli(db_url, "ledger", "balance", "user:bob", "--csv")).stdout
    (row,) = csv.DictReader(io.StringIO(bob))
    assert row["available"] == str(past_2_63)
    table = ok(cli(db_url, "ledger", "balance", "user:alice")).stdout
    assert str(UINT256_MAX - past_2_63) in table  # every digit, not cut to the terminal
    rows = ok(cli(db_url, "query", "SELECT amount FROM ledger_transfers ORDER BY id", "--json"))
    assert json.loads(rows.stdout) == [{"amount": UINT256_MAX}, {"amount": past_2_63}]
    assert ledger.get_balance(ledger_db, "user:bob").available == past_2_63


@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        ("1e18", "must be a non-negative integer in base units"),
        ("1.5", "must be a non-negative integer in base units"),
        ("-5", "must be a non-negative integer in base units"),
        (str(2**256), "must be <= 2**256 - 1"),
    ],
)
def test_an_amount_that_is_not_an_exact_integer_is_refused_and_nothing_written(
    ledger_db, db_url, amount, rule
):
    error = one_line_error(transfer(db_url, "system:issuance", "user:alice", amount, "deposit"))
    assert error.startswith("error: --amount: ")
    assert rule in error
    assert ledger.account_history(ledger_db, "user:alice").items == []


def test_the_kinds_are_listed_in_help_and_another_is_refused(ledger_db, db_url):
    helped = ok(cli(db_url, "ledger", "transfer", "--help")).stdout
    for kind in ledger.TRANSFER_KINDS:
        assert kind in helped
    error = one_line_error(transfer(db_url, "system:issuance", "user:alice", 5, "gift"))
    assert error.startswith("error: --kind: 'gift' is invalid: must be one of earned_challenge")


def test_refusals_from_the_ledger_are_one_line_and_write_nothing(ledger_db, db_url):
    ok(transfer(db_url, "system:issuance", "user:alice", 10, "deposit"))
    overdraft = one_line_error(transfer(db_url, "user:alice", "user:bob", 11, "transfer"))
    assert overdraft == (
        "error: insufficient funds: user:alice has 10 points available, the transfer needs 11"
    )
    bad_account = one_line_error(transfer(db_url, "alice", "user:bob", 1, "transfer"))
    assert bad_account.startswith("error: debit: 'alice' is invalid: must be 'user:<user id>'")
    assert ledger.get_balance(ledger_db, "user:bob").available == 0
    both = one_line_error(cli(db_url, "ledger", "balance", "user:bob", "--json", "--csv"))
    assert both == "error: --json and --csv cannot be combined: choose one"


def test_the_same_idempotency_key_returns_the_first_transfer(ledger_db, db_url):
    args = ("system:issuance", "user:alice", 7, "deposit", "--key", "grant:1", "--json")
    first = json.loads(ok(transfer(db_url, *args)).stdout)
    again = json.loads(ok(transfer(db_url, *args)).stdout)
    assert again == first
    assert ledger.get_balance(ledger_db, "user:alice").available == 7


def test_a_transfer_as_csv_parses_back(ledger_db, db_url):
    made = ok(transfer(db_url, "system:issuance", "user:alice", 2**64, "deposit", "--csv"))
    (row,) = csv.DictReader(io.StringIO(made.stdout))
    assert (row["amount"], row["kind"], row["phase"], row["reason"]) == (
        str(2**64),
        "deposit",
        "single",
        "",
    )


def test_a_hold_is_listed_until_posted_or_voided(ledger_db, db_url):
    ok(transfer(db_url, "system:issuance", "user:alice", 2**64, "deposit"))
    hold = ("user:alice", "system:escrow", 40, "locked_escrow", "--pending", "--json")
    stake = json.loads(ok(transfer(db_url, *hold, "--expires-at", "2999-01-01T00:00Z")).stdout)
    big = ("user:alice", "system:escrow", 2**63, "locked_escrow", "--pending", "--json")
    other = json.loads(ok(transfer(db_url, *big)).stdout)
    held = json.loads(ok(cli(db_url, "ledger", "holds", "user:alice", "--json")).stdout)
    assert [(h["id"], h["amount"], h["expires_at"], h["expired"]) for h in held["items"]] == [
        (other["id"], 2**63, None, False),
        (stake["id"], 40, "2999-01-01T00:00:00+00:00", False),
    ]
    table = ok(cli(db_url, "ledger", "holds")).stdout
    assert str(2**63) in table and "2999-01-01T00:00:00+00:00" in table
    post = ("ledger", "post", str(stake["id"]), "--amount", "30", "--json")
    posted = json.loads(ok(cli(db_url, *post)).stdout)
    assert (posted["phase"], posted["amount"], posted["kind"]) == ("post", 30, "released_escrow")
    voided = json.loads(ok(cli(db_url, "ledger", "void", str(other["id"]), "--json")).stdout)
    assert (voided["phase"], voided["kind"]) == ("void", "refunded")
    assert json.loads(ok(cli(db_url, "ledger", "holds", "--json")).stdout)["items"] == []
    assert ledger.get_balance(ledger_db, "user:alice") == ledger.Balance(
        posted=2**64 - 30, held=0, available=2**64 - 30
    )
    again = one_line_error(cli(db_url, "ledger", "void", str(stake["id"])))
    assert "already posted or voided" in again
    bad_id = one_line_error(cli(db_url, "ledger", "post", "first"))
    assert bad_id == "error: HOLD_ID: 'first' is invalid: must be a whole number > 0"


def test_history_is_newest_first_a_page_at_a_time(ledger_db, db_url):
    for amount in (2**63 + 1, 2**63 + 2, 2**63 + 3):
        ok(transfer(db_url, "system:issuance", "user:alice", amount, "deposit"))
    ok(transfer(db_url, "user:alice", "user:bob", 5, "transfer", "--reason", "lunch"))
    first = ok(cli(db_url, "ledger", "history", "user:alice", "--limit", "2", "--json"))
    page = json.loads(first.stdout)
    total = 3 * 2**63 + 6
    assert [
        (e["direction"], e["counterparty"], e["amount"], e["posted_after"]) for e in page["items"]
    ] == [
        ("debit", "user:bob", 5, total - 5),
        ("credit", "system:issuance", 2**63 + 3, total),
    ]
    before = str(page["next_before_id"])
    assert f"more: the next page is --before-id {before}" in first.stderr
    rest = ok(
        cli(
            db_url,
            "ledger",
            "history",
            "user:alice",
            "--limit",
            "2",
            "--before-id",
            before,
            "--csv",
        )
    )
    rows = list(csv.DictReader(io.StringIO(rest.stdout)))
    assert [(r["amount"], r["posted_after"]) for r in rows] == [
        (str(2**63 + 2), str(2**64 + 3)),
        (str(2**63 + 1), str(2**63 + 1)),
    ]
    assert "more:" not in rest.stderr
    table = ok(cli(db_url, "ledger", "history", "user:bob")).stdout
    assert "lunch" in table and "user:alice" in table


def test_the_leaderboard_as_table_json_and_csv(ledger_db, db_url):
    ok(transfer(db_url, "system:issuance", "user:alice", UINT256_MAX - 2**63, "deposit"))
    ok(transfer(db_url, "system:issuance", "user:bob", 2**63, "deposit"))
    board = json.loads(ok(cli(db_url, "ledger", "leaderboard", "--limit", "2", "--json")).stdout)
    assert board == [
        {"rank": 1, "user_id": "alice", "username": "alice", "balance": UINT256_MAX - 2**63},
        {"rank": 2, "user_id": "bob", "username": "bob", "balance": 2**63},
    ]
    rows = ok(cli(db_url, "ledger", "leaderboard", "--csv")).stdout
    assert list(csv.reader(io.StringIO(rows)))[:3] == [
        ["rank", "user_id", "username", "balance"],
        ["1", "alice", "alice", str(UINT256_MAX - 2**63)],
        ["2", "bob", "bob", str(2**63)],
    ]
    assert str(UINT256_MAX - 2**63) in ok(cli(db_url, "ledger", "leaderboard")).stdout


def test_ledger_commands_never_create_a_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'typo.sqlite3'}"
    for args in (
        ["ledger", "balance", "user:alice"],
        [
            "ledger",
            "transfer",
            "--debit",
            "system:issuance",
            "--credit",
            "user:a",
            "--amount",
            "1",
            "--kind",
            "deposit",
        ],
        ["query", "SELECT 1"],
    ):
        assert one_line_error(cli(url, *args)).startswith("error: no database at"), args
    assert not (tmp_path / "typo.sqlite3").exists()
