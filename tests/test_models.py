"""Insert and select models for every table of every module (seed 003's drizzle-zod): each
table's real rows, written by the modules' own APIs, are read into its select model, accepted
by its insert model, and written back through it unchanged, on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from chaindb import assets, core, creators, games, ledger
from chaindb.models import all_tables, json_schema, models_for, type_name
from chaindb.types import UINT256_MAX

ROUND_TRIPS_PER_END = 10
STAMPED_BY_TRIGGERS = {"memory_assets": {"updated_at"}}  # update_memory_assets_updated_at


@pytest.fixture
def every_table_has_rows(demo_db):
    """The demo's story touches every module; a setting and an open hold fill the rest."""
    core_db = demo_db
    core.set_setting(core_db, "site.name", "SiTa Minter", is_public=True)
    ledger.transfer(
        core_db, debit="user:alice", credit="system:escrow", amount=1, kind="locked_escrow",
        pending=True, asset=ledger.get_asset(core_db, asset_id=2).code,
    )  # fmt: skip
    with core_db.transaction() as conn:  # one audit row old enough for the archive
        first = conn.exec_driver_sql("SELECT min(id) FROM blockchain_audit_logs").scalar_one()
        conn.execute(
            sa.text("UPDATE blockchain_audit_logs SET timestamp = :old WHERE id = :id"),
            {"old": datetime(2020, 1, 1, tzinfo=UTC), "id": first},
        )
    assets.run_cleanup(core_db, audit_days=1)
    games.record_peer_connected(
        core_db, peer_id="peer-1", address="10.0.0.7:7700", transport="tcp", user_id="alice"
    )
    for value in (0.1, 2.5):  # a sample, rolled up (kept: it is within the raw retention)
        games.record_metric(core_db, metric_name="latency_ms", value=value)
    games.rollup_metrics(core_db)
    games.record_metric(core_db, metric_name="latency_ms", value=1 / 3)
    games.stake(core_db, user_id="ana", amount=10**6, lock_period_days=30, reward_rate="0.05")
    fill_creators(core_db)
    fill_leaderboard_floor(core_db)
    fill_dropped_totals(core_db)
    fill_plays_dropped_totals(core_db)
    return core_db


def fill_dropped_totals(db):
    """ledger_dropped_totals gets rows only when a partition of ledger_transfers is dropped
    (PostgreSQL's retention, tests/ops/test_partitions.py): one row, past 2**63, written here."""
    account = ledger.get_account(db, "user:alice")
    totals = {"debits_posted": 2**63 + 1, "credits_posted": UINT256_MAX, "transfer_count": 2,
              "dropped_before": datetime(2025, 1, 1, tzinfo=UTC)}  # fmt: skip
    with db.transaction() as conn:
        conn.execute(
            ledger.metadata.tables["ledger_dropped_totals"].insert(),
            {"account_id": account.id, **totals},
        )


def fill_plays_dropped_totals(db):
    """plays_dropped_totals gets rows only when a partition of plays is dropped (PostgreSQL's
    retention, tests/creators/test_plays_partitioned.py): one row, written here."""
    with db.read() as conn:
        track_id = conn.exec_driver_sql("SELECT min(id) FROM tracks").scalar_one()
    with db.transaction() as conn:
        conn.execute(
            creators.metadata.tables["plays_dropped_totals"].insert(),
            {"day": datetime(2025, 1, 1, tzinfo=UTC).date(), "track_id": track_id,
             "plays": 3, "listened_s": 2**40},
        )  # fmt: skip


def fill_leaderboard_floor(db):
    """An asset's board gets a floor (ledger_leaderboard_floors) only past 2,500 user accounts:
    a batch that creates 2,600 of them moves it (ledger_0003)."""
    users = [{"id": f"board{n}", "username": f"board{n}"} for n in range(2_600)]
    with db.transaction() as conn:
        conn.execute(core.metadata.tables["users"].insert(), users)
    ledger.transfer_batch(db, [
        {"debit": "system:issuance", "credit": f"user:{user['id']}", "amount": n + 1,
         "kind": "deposit"}
        for n, user in enumerate(users)
    ])  # fmt: skip


def fill_creators(db):
    """A like, a comment, a playlist and a quarter's distribution the demo's creator lacks."""
    with db.read() as conn:
        creator_id, track_id = conn.execute(
            sa.text("SELECT creator_id, min(id) FROM tracks GROUP BY creator_id")
        ).one()
    creators.like_track(db, user_id="alice", track_id=track_id)
    creators.add_comment(db, user_id="alice", track_id=track_id, body="gold")
    playlist = creators.create_playlist(db, owner_id="alice", title="Mix")
    creators.add_to_playlist(db, playlist_id=playlist.id, track_id=track_id)
    ledger.transfer(
        db, debit="system:issuance", credit="user:alice", amount=10**18, kind="deposit",
        asset=creators.revenue_asset(db),
    )  # fmt: skip
    creators.tip_creator(
        db, creator_id=creator_id, fan_id="alice", amount_wei=10**18, idempotency_key="tip",
        received_at=datetime(2025, 3, 10, tzinfo=UTC),
    )  # fmt: skip
    creators.distribute_revenue(db, creator_id=creator_id, quarter="2025-Q1")


def test_every_table_of_every_module_round_trips_through_its_models(every_table_has_rows):
    db = every_table_has_rows
    for name, table in sorted(all_tables().items()):
        insert_model, select_model = models_for(name)
        with db.read() as conn:
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
        assert rows, f"{name} has no row: its round trip would prove nothing"
        for row in rows:  # every row reads into its select model...
            assert select_model.model_validate(row).model_dump() == dict(row._mapping), name
        for row in written_back(rows):  # ...and some go back through the insert model
            selected = select_model.model_validate(row)
            values = insert_model(**selected.model_dump()).model_dump(exclude_unset=True)
            key = {column.name: values[column.name] for column in table.primary_key.columns}
            with db.transaction() as conn:  # the same values, written through the types
                conn.execute(table.update().filter_by(**key).values(**values))
            with db.read() as conn:
                again = conn.execute(sa.select(table).filter_by(**key)).one()
            stamped = STAMPED_BY_TRIGGERS.get(name, set())  # an update moves them, by design
            assert select_model.model_validate(again).model_dump(
                exclude=stamped
            ) == selected.model_dump(exclude=stamped), name


def written_back(rows: list[sa.Row]) -> list[sa.Row]:
    """The first and last rows by key: the demo writes 50,000 plays alike, and a write each
    would take minutes."""
    return rows if len(rows) <= 2 * ROUND_TRIPS_PER_END else [
        *rows[:ROUND_TRIPS_PER_END], *rows[-ROUND_TRIPS_PER_END:]
    ]  # fmt: skip


def test_generated_ids_and_defaults_are_optional_on_insert_and_required_on_select():
    insert_token, token = models_for("tokens")
    new = insert_token(
        name="SiTa",
        symbol="SITA",
        supply=str(UINT256_MAX),
        creator_id="u",
        network_id="ckb:testnet",
    )
    assert (new.id, new.status, new.supply) == (None, None, UINT256_MAX)
    assert (insert_token.__name__, token.__name__) == ("InsertToken", "Token")
    with pytest.raises(ValidationError, match="id"):
        token.model_validate(new.model_dump() | {"id": None})


@pytest.mark.parametrize(
    ("table", "values", "field"),
    [
        ("tokens", {"supply": 1.5}, "supply"),
        ("tokens", {"supply": UINT256_MAX + 1}, "supply"),
        ("tokens", {"status": "done"}, "status"),
        ("tokens", {"network_id": "ckb"}, "network_id"),
        ("tokens", {"symbol": "S" * 17}, "symbol"),
        ("tokens", {"created_at": "2024-01-01T00:00:00"}, "created_at"),
        ("tokens", {"extra": 1}, "extra"),
        ("user_wallet_addresses", {"wallet_address": "ckb1nope"}, "wallet_address"),
        ("ledger_assets", {"decimals": 2**15}, "decimals"),
        ("security_events", {"metadata": {"x": float("nan")}}, "metadata"),
    ],
)
def test_the_insert_model_refuses_what_the_database_would(table, values, field):
    base = {
        "tokens": {"name": "n", "symbol": "S", "supply": 1, "creator_id": "u",
                   "network_id": "ckb:testnet"},
        "user_wallet_addresses": {"user_id": "u", "wallet_address": "0x" + "1" * 40,
                                  "chain_id": "eip155:1"},
        "ledger_assets": {"code": "c", "kind": "points", "symbol": "P", "decimals": 0},
        "security_events": {"event_type": "login", "description": "d"},
    }[table]  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        models_for(table).insert(**(base | values))
    assert field in {str(error["loc"][0]) for error in refused.value.errors()}


def test_an_amounts_json_schema_says_uint256_and_exact():
    supply = json_schema("tokens")["properties"]["supply"]
    assert {"type": "integer", "minimum": 0, "maximum": UINT256_MAX} in supply["anyOf"]
    assert json.loads(json.dumps(supply)) == supply  # the bound survives as an exact integer
    assert json_schema("tokens", "select")["required"][0] == "id"


def test_type_names_follow_the_seed():
    assert [type_name(n) for n in ("users", "security_events", "user_wallet_addresses")] == [
        "User",
        "SecurityEvent",
        "UserWalletAddress",
    ]


def test_the_command_prints_a_tables_json_schema():
    from tests.conftest import run_cli

    printed = run_cli("schema", "json", "transactions")
    schema = json.loads(printed.stdout)
    assert (schema["title"], schema["additionalProperties"]) == ("InsertTransaction", False)
    assert set(schema["required"]) == {"user_id", "tx_hash", "tx_type", "network_id",
                                       "blockchain_tx_id"}  # fmt: skip
    unknown = run_cli("schema", "json", "nope")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: table: 'nope' is invalid: must be one of")
