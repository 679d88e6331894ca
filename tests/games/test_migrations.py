"""games_0001 … games_0009 walked up and down, one at a time, with rows in every table."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from chaindb import core, ledger, migrations
from chaindb.errors import DestructiveMigration
from chaindb.games import schema
from chaindb.migrations.lint import DESTRUCTIVE, lint_statements
from chaindb.types import utc_now

REVISIONS = [f"games_{n:04d}" for n in range(1, 10)]
TABLES = {
    "games_0001": ["games_players", "games", "game_rolls", "bets"],
    "games_0002": ["peer_connections"],
    "games_0003": ["consensus_rounds", "consensus_participants", "consensus_votes"],
    "games_0004": ["player_stats", "game_statistics"],
    "games_0005": ["games_audit_log"],
    "games_0006": ["staking_positions"],
    "games_0007": ["performance_metrics", "performance_metric_rollups"],
    "games_0008": [],  # token_balances replaced: no table
    "games_0009": [],  # an index dropped: no table
}


def fill(db, revision: str) -> None:
    """Rows in each table `revision` creates (its tables as schema.py gives them)."""
    now = utc_now()
    with db.transaction() as conn:
        if revision == "games_0001":
            core.ensure_user(conn, "alice", "alice")
            hold = ledger.transfer(
                conn, debit="system:issuance", credit="system:games_house", amount=2**64,
                kind="locked_escrow", pending=True,
            )  # fmt: skip
            conn.execute(
                schema.games_players.insert().values(user_id="alice", public_key=b"k" * 32)
            )
            conn.execute(schema.games.insert().values(id="g1", state={"table": 1}, pot_size=2**64))
            conn.execute(
                schema.game_rolls.insert().values(game_id="g1", roll_number=1, die1=2, die2=3)
            )
            conn.execute(schema.bets.insert().values(
                id=b"b" * 16, game_id="g1", player_id="alice", bet_type="pass", amount=2**64,
                placed_at_roll=0, hold_transfer_id=hold.id,
            ))  # fmt: skip
        elif revision == "games_0002":
            conn.execute(schema.peer_connections.insert().values(
                peer_id="peer-1", address="10.0.0.1:8333", transport="tcp"
            ))  # fmt: skip
        elif revision == "games_0003":
            conn.execute(schema.consensus_rounds.insert().values(
                round_number=1, game_id="g1", proposer_id="alice", proposal_hash=b"h" * 32,
                participant_count=1, quorum=1, vote_count=1, finalized=True, finalized_at=now,
            ))  # fmt: skip
            conn.execute(
                schema.consensus_participants.insert().values(round_number=1, user_id="alice")
            )
            conn.execute(schema.consensus_votes.insert().values(
                id="v1", round_number=1, voter_id="alice", vote_hash=b"v" * 32, signature=b"s" * 64
            ))  # fmt: skip
        elif revision == "games_0004":
            conn.execute(
                schema.player_stats.insert().values(
                    user_id="alice", games_played=1, total_wagered=2**70
                )
            )
            conn.execute(schema.game_statistics.insert().values(
                game_id="g1", bet_count=1, player_count=1, roll_count=1, duration_ms=5
            ))  # fmt: skip
        elif revision == "games_0005":
            conn.execute(schema.games_audit_log.insert().values(
                actor="alice", entity_type="game", entity_id="g1", action="create", after={}
            ))  # fmt: skip
        elif revision == "games_0006":
            hold = ledger.transfer(
                conn, debit="system:issuance", credit="system:games_staking", amount=7,
                kind="locked_escrow", pending=True,
            )  # fmt: skip
            conn.execute(schema.staking_positions.insert().values(
                id="p1", user_id="alice", amount=7, lock_period_days=7, reward_rate="0.05",
                started_at=now, ends_at=now + timedelta(days=7), hold_transfer_id=hold.id,
            ))  # fmt: skip
        elif revision == "games_0007":
            conn.execute(schema.performance_metrics.insert().values(
                metric_name="latency_ms", value=1.5, labels={}, labels_key="{}", recorded_at=now
            ))  # fmt: skip
            conn.execute(schema.performance_metric_rollups.insert().values(
                metric_name="latency_ms", labels_key="{}", resolution="minute", bucket_start=now,
                sample_count=1, value_sum=1.5, value_min=1.5, value_max=1.5,
            ))  # fmt: skip


def row_counts(db) -> dict[str, int]:
    with db.connection() as conn:
        present = set(sa.inspect(conn).get_table_names())
        return {
            table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for tables in TABLES.values()
            for table in tables
            if table in present
        }


def test_each_migration_goes_up_and_down_with_rows_in_the_tables(db):
    migrations.migrate(db, modules=["ledger"])
    for revision in REVISIONS:
        migrations.migrate(db, modules=["games"], to=revision)
        fill(db, revision)
    full = row_counts(db)
    assert set(full) == {table for tables in TABLES.values() for table in tables}
    assert all(count >= 1 for count in full.values())
    for revision in reversed(REVISIONS):
        previous = REVISIONS[REVISIONS.index(revision) - 1] if revision != "games_0001" else None
        migrations.rollback(db, previous or "base", module="games", allow_data_loss=True)
        left = row_counts(db)
        assert not set(left) & set(TABLES[revision]), revision
        assert left == {table: full[table] for table in left}, revision
    assert row_counts(db) == {}
    migrations.migrate(db, modules=["games"])
    for revision in REVISIONS:
        fill(db, revision)
    assert row_counts(db) == full


def test_a_rollback_names_the_tables_it_drops_with_their_rows(core_db):
    with core_db.transaction() as conn:
        conn.execute(schema.performance_metrics.insert().values(
            metric_name="m", value=1.0, labels={}, labels_key="{}", recorded_at=utc_now()
        ))  # fmt: skip
    plan = migrations.rollback(core_db, "games_0006", dry_run=True)
    assert [step.revision for step in plan.steps] == ["games_0009", "games_0008", "games_0007"]
    dropped = {table.name: table.rows for table in plan.dropped_tables}
    assert dropped == {"performance_metric_rollups": 0, "performance_metrics": 1}
    findings = lint_statements("games_0007", plan.steps[2].sql)
    assert {f.code for f in findings if f.kind == DESTRUCTIVE} == {"drop-table"}
    assert migrations.status(core_db).modules  # nothing was rolled back
    with core_db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM performance_metrics")).scalar_one() == 1


def test_a_downgrade_that_drops_rows_is_refused_without_allow_data_loss(core_db):
    with core_db.transaction() as conn:
        conn.execute(schema.performance_metrics.insert().values(
            metric_name="m", value=1.0, labels={}, labels_key="{}", recorded_at=utc_now()
        ))  # fmt: skip
    with pytest.raises(DestructiveMigration) as refused:
        migrations.rollback(core_db, "games_0006")
    assert "refusing to roll back" in str(refused.value)
    assert "drops table performance_metrics and every row in it (1 rows)" in str(refused.value)
    # the empty rollups table is no loss: not named
    assert "performance_metric_rollups" not in str(refused.value)
    games_status = [m for m in migrations.status(core_db).modules if m.name == "games"]
    assert games_status[0].current == "games_0009"
    with core_db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM performance_metrics")).scalar_one() == 1
    plan = migrations.rollback(core_db, "games_0006", dry_run=True)
    assert plan.destructive and "performance_metrics" in plan.destructive[0]
    run = migrations.rollback(core_db, "games_0006", allow_data_loss=True)
    assert [step.revision for step in run.steps] == ["games_0009", "games_0008", "games_0007"]


def test_a_downgrade_of_empty_tables_needs_no_flag(core_db):
    run = migrations.rollback(core_db, "games_0006")
    assert [step.revision for step in run.steps] == ["games_0009", "games_0008", "games_0007"]
    assert "performance_metrics" not in sa.inspect(core_db.engine).get_table_names()


def test_lint_names_what_a_downgrade_drops():
    findings = migrations.lint(["games_0007"], downgrades=True)
    dropped = {f.table for f in findings if f.kind == DESTRUCTIVE and f.code == "drop-table"}
    assert dropped == {"performance_metrics", "performance_metric_rollups"}
    assert all(f.direction == "downgrade" for f in findings)
    assert "games_0007 (downgrade) drop-table" in str(findings[0])
    upgrades = migrations.lint(["games_0007"])
    assert not [f for f in upgrades if f.kind == DESTRUCTIVE]


def test_bets_keep_only_the_index_their_queries_read(db):
    """games_0009: no query reads bets by player (ix_bets_player cost every bet a write);
    its downgrade builds the index again."""
    migrations.migrate(db, modules=["ledger", "games"])
    assert bet_indexes(db) == {"ix_bets_game"}
    migrations.rollback(db, "games_0008", module="games")
    assert bet_indexes(db) == {"ix_bets_game", "ix_bets_player"}


def bet_indexes(db) -> set[str]:
    with db.connection() as conn:
        return {
            i["name"] for i in sa.inspect(conn).get_indexes("bets") if i["name"].startswith("ix_")
        }
