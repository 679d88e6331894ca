"""Seed 000's historical migration: points for challenges resolved off-chain, once."""

from __future__ import annotations

import json

import pytest

from chaindb import challenges, ledger
from tests.conftest import run_cli


@pytest.fixture
def history(ledger_db):
    made = [
        challenges.create_challenge(
            ledger_db,
            title="old 1",
            challenger="alice",
            challenged="bob",
            amount=40,
            result="challenger_won",
        ),
        challenges.create_challenge(
            ledger_db,
            title="old 2",
            challenger="alice",
            challenged="bob",
            amount=2**64,
            result="challenged_won",
        ),
        challenges.create_challenge(
            ledger_db, title="draw", challenger="carol", challenged="dave", amount=10, result="draw"
        ),
        challenges.create_challenge(ledger_db, title="open", challenger="carol", amount=10),
        challenges.create_challenge(
            ledger_db,
            title="no amount",
            challenger="dave",
            challenged="carol",
            result="challenger_won",
        ),
    ]
    return made


def test_backfill_awards_each_winner_once(ledger_db, history):
    report = challenges.backfill_points(ledger_db, batch_size=2)
    assert (report.awarded, report.points_awarded, report.skipped) == (2, 40 + 2**64, 1)
    assert ledger.get_user_points_balance(ledger_db, "alice") == 40
    assert ledger.get_user_points_balance(ledger_db, "bob") == 2**64
    again = challenges.backfill_points(ledger_db)
    assert (again.awarded, again.points_awarded, again.already_awarded) == (0, 0, 2)
    assert ledger.get_user_points_balance(ledger_db, "bob") == 2**64
    (entry,) = ledger.get_user_points_transaction_history(ledger_db, "alice").items
    assert (entry.reason, entry.challenge_id) == ("Migrated from off-chain", history[0].id)


def test_backfill_dry_run_awards_nothing(ledger_db, history):
    report = challenges.backfill_points(ledger_db, dry_run=True)
    assert (report.awarded, report.dry_run) == (2, True)
    assert ledger.get_user_points_balance(ledger_db, "alice") == 0


def test_backfill_skips_challenges_resolved_on_chain(ledger_db):
    challenge = challenges.create_challenge(
        ledger_db, title="on chain", challenger="alice", challenged="bob", amount=5
    )
    challenges.activate_challenge(ledger_db, challenge.id)
    challenges.resolve_challenge(ledger_db, challenge.id, winning_side="YES")
    assert challenges.backfill_points(ledger_db).challenges_seen == 0


def test_backfill_from_the_command_line(ledger_db, history, db_url):
    first = run_cli("challenges", "backfill-points", "--json", env={"CHAINDB_URL": db_url})
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["awarded"] == 2
    second = run_cli("challenges", "backfill-points", env={"CHAINDB_URL": db_url})
    assert "awarded 0 points for 0 challenges (2 already awarded" in second.stdout
