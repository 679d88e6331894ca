"""chaindb maintenance: --check finds every difference, --repair mends it."""

from __future__ import annotations

import json

from chaindb import challenges, ledger
from chaindb.ops.maintenance import run_maintenance
from tests.conftest import run_cli


def damage_alice(db) -> None:
    """Change stored counters by hand, consistently enough that PostgreSQL's CHECK allows it."""
    wrong = "'" + "7".zfill(78) + "'" if db.backend == "sqlite" else "7"
    with db.transaction() as conn:
        conn.exec_driver_sql(
            f"UPDATE ledger_accounts SET credits_posted = {wrong}, balance = {wrong} "
            "WHERE owner_id = 'alice'"
        )


def test_check_passes_then_names_a_damaged_account_then_repair_mends_it(ledger_db, db_url):
    ledger.record_points_transaction(
        ledger_db, user_id="alice", transaction_type="earned_challenge", amount=100
    )
    ok = run_cli("maintenance", "--check", env={"CHAINDB_URL": db_url})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ledger, challenges, assets, games, tokens, creators verified" in ok.stdout
    damage_alice(ledger_db)
    bad = run_cli("maintenance", "--check", "--json", env={"CHAINDB_URL": db_url})
    assert bad.returncode == 1
    problems = json.loads(bad.stdout)["problems"]
    assert "(user:alice): credits_posted is 7, its transfers say 100" in " ".join(problems)
    assert any("debits" in p and "!= credits" in p for p in problems), (
        "the asset no longer sums to zero"
    )
    fixed = run_cli("maintenance", "--repair", env={"CHAINDB_URL": db_url})
    assert fixed.returncode == 0
    assert "ledger: repaired 1 accounts" in fixed.stdout
    assert ledger.get_user_points_balance(ledger_db, "alice") == 100
    assert run_maintenance(ledger_db, check=True).ok


def test_check_compares_escrow_records_with_their_holds(ledger_db):
    challenge = challenges.create_challenge(
        ledger_db, title="t", challenger="alice", challenged="bob"
    )
    challenges.activate_challenge(ledger_db, challenge.id)
    record = challenges.create_escrow_record(
        ledger_db, challenge_id=challenge.id, user_id="alice", side="YES", amount_escrowed=10
    )
    with ledger_db.transaction() as conn:
        conn.exec_driver_sql(
            f"UPDATE challenge_escrow_records SET status = 'released' WHERE id = {record.id}"
        )
    report = run_maintenance(ledger_db, check=True)
    assert f"escrow {record.id} is released but its hold is open" in report.problems


def test_vacuum_analyze_and_cleanup(ledger_db):
    report = run_maintenance(ledger_db, vacuum=True, analyze=True, cleanup=True)
    assert report.done == [
        "ledger: voided 0 expired holds",
        "assets: deleted 0 completed minting jobs older than 7 days",
        "assets: archived 0 audit rows older than 90 days",
        "games: rolled up 0 metric samples, pruned 0 past 7 days",
        "vacuum",
        "analyze",
    ]


def test_maintenance_with_no_action_checks(ledger_db, db_url):
    ledger.record_points_transaction(
        ledger_db, user_id="alice", transaction_type="earned_challenge", amount=100
    )
    damage_alice(ledger_db)
    result = run_cli("maintenance", "--json", env={"CHAINDB_URL": db_url})
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["checked"] == [
        f"{ledger_db.backend} integrity",
        "ledger",
        "challenges",
        "assets",
        "games",
        "tokens",
        "creators",
    ]
    assert "(user:alice): credits_posted is 7" in " ".join(report["problems"])


def test_reindex_and_vacuum_of_named_tables_or_all(ledger_db, db_url):
    ledger.record_points_transaction(
        ledger_db, user_id="alice", transaction_type="earned_challenge", amount=2**63 + 1
    )
    report = run_maintenance(ledger_db, reindex=True, vacuum=True, tables=["ledger_accounts"])
    reindex = "reindex table concurrently" if ledger_db.backend == "postgresql" else "reindex"
    vacuum = "vacuum ledger_accounts" if ledger_db.backend == "postgresql" else "vacuum"
    assert report.done == [f"{reindex} ledger_accounts", vacuum]  # SQLite vacuums the file
    assert run_maintenance(ledger_db, reindex=True, analyze=True).ok
    assert ledger.get_user_points_balance(ledger_db, "alice") == 2**63 + 1
    assert run_maintenance(ledger_db, check=True).ok
    refused = run_cli("maintenance", "--reindex", "--table", "no_such", env={"CHAINDB_URL": db_url})
    assert refused.returncode == 1 and "no_such" in refused.stderr


def test_vacuum_full_asks_first_on_postgresql(pg_url):
    """PostgreSQL only: VACUUM FULL takes an exclusive lock (SQLite's VACUUM needs no question)."""
    import chaindb
    from chaindb import migrations

    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    refused = run_cli("maintenance", "--vacuum-full", env={"CHAINDB_URL": pg_url}, stdin="")
    assert refused.returncode == 1 and "--force" in refused.stderr
    done = run_cli("maintenance", "--vacuum-full", "--force", env={"CHAINDB_URL": pg_url})
    assert done.returncode == 0 and "vacuum full" in done.stdout
    db.close()
