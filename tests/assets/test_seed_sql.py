"""Seed 001's SQL, copied from its "Usage Examples" and "Maintenance" sections (the wallet
placeholder replaced), run on PostgreSQL against data written through chaindb's API.

PostgreSQL only: the seed's SQL is PostgreSQL's (INTERVAL, DATE_TRUNC, NOW()).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

import chaindb
from chaindb import assets, migrations
from chaindb.types import utc_now
from tests.assets.conftest import ALICE, BOB, CAROL, enqueue, minter, register

USER_ASSETS = """SELECT * FROM memory_assets
WHERE owner_address = 'wallet_address_here'
ORDER BY created_at DESC;"""
BATCH_STATISTICS = """SELECT * FROM batch_statistics
WHERE date >= CURRENT_DATE - INTERVAL '30 days';"""
ACTIVE_GRANTS = """SELECT ag.*, ma.owner_address
FROM access_grants ag
JOIN memory_assets ma ON ag.asset_id = ma.asset_id
WHERE ag.grantee_address = 'wallet_address_here'
  AND ag.revoked_at IS NULL
  AND (ag.expires_at IS NULL OR ag.expires_at > NOW());"""
COSTS_OVER_TIME = """SELECT 
  DATE_TRUNC('day', timestamp) as date,
  COUNT(*) as operations,
  SUM(total_cost_lamports) as total_cost,
  AVG(total_cost_lamports) as avg_cost
FROM cost_tracking
WHERE wallet_address = 'wallet_address_here'
GROUP BY DATE_TRUNC('day', timestamp)
ORDER BY date DESC;"""
CLEAN_QUEUE = """DELETE FROM minting_queue
WHERE status = 'completed'
  AND completed_at < NOW() - INTERVAL '7 days';"""
CLEAN_AUDIT = """DELETE FROM blockchain_audit_logs
WHERE timestamp < NOW() - INTERVAL '90 days';"""


def run(db, sql: str, wallet: str | None = None):
    if wallet is not None:
        sql = sql.replace("wallet_address_here", wallet)
    with db.transaction() as conn:
        result = conn.exec_driver_sql(sql)
        return result.mappings().all() if result.returns_rows else result.rowcount


@pytest.fixture
def platform(pg_url):
    """Alice mints three assets in two batches, grants Bob two of them (one grant revoked,
    one expired, one in force), pays a cost past 2**64; Bob mints one."""
    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    register(db)
    for n in range(3):
        enqueue(db, f"alice{n}")
    assets.run_worker(db, mint=minter(), once=True, batch_size_max=2)
    enqueue(db, "bob0", owner=BOB)
    assets.run_worker(db, mint=minter(), once=True)
    mine = assets.list_assets(db, ALICE)
    grant = assets.grant_access
    kept = grant(db, asset_id=mine[0].asset_id, owner_address=ALICE, grantee_address=BOB)
    gone = grant(db, asset_id=mine[1].asset_id, owner_address=ALICE, grantee_address=BOB)
    assets.revoke_grant(db, gone.id, owner_address=ALICE)
    grant(
        db,
        asset_id=mine[2].asset_id,
        owner_address=ALICE,
        grantee_address=BOB,
        expires_at=utc_now() - timedelta(minutes=1),
    )
    assets.record_cost(db, wallet_address=ALICE, operation="upload", storage_cost_lamports=2**64)
    yield db, mine, kept
    db.close()


def test_users_memory_assets(platform):
    db, mine, _kept = platform
    rows = run(db, USER_ASSETS, ALICE)
    assert sorted(row["asset_id"] for row in rows) == sorted(asset.asset_id for asset in mine)
    times = [row["created_at"] for row in rows]
    assert times == sorted(times, reverse=True) and len(times) == 3
    assert {row["owner_address"] for row in rows} == {ALICE}
    assert run(db, USER_ASSETS, CAROL) == []


def test_batch_statistics(platform):
    db, _mine, _kept = platform
    (today,) = run(db, BATCH_STATISTICS)
    assert today["date"] == utc_now().date()
    assert (today["total_batches"], today["total_assets"], today["successful_batches"]) == (3, 4, 3)
    assert today["failed_batches"] == 0
    assert today["total_cost_lamports"] == 4 * 10_000


def test_active_access_grants(platform):
    db, _mine, kept = platform
    (row,) = run(db, ACTIVE_GRANTS, BOB)
    assert (row["id"], row["asset_id"], row["owner_address"]) == (kept.id, kept.asset_id, ALICE)
    assert run(db, ACTIVE_GRANTS, ALICE) == []


def test_costs_over_time(platform):
    db, _mine, _kept = platform
    (day,) = run(db, COSTS_OVER_TIME, ALICE)
    assert day["operations"] == 4  # three mints and the upload
    assert day["total_cost"] == 3 * 10_000 + 2**64
    assert day["avg_cost"] == (3 * 10_000 + 2**64) // 4  # exact: NUMERIC, not a float
    assert [d.total_cost for d in assets.daily_costs(db, ALICE)] == [3 * 10_000 + 2**64]


def test_the_seeds_cleanup_statements(platform):
    db, _mine, _kept = platform
    tables = assets.metadata.tables
    with db.transaction() as conn:
        old = utc_now() - timedelta(days=8)
        conn.execute(
            tables["minting_queue"]
            .update()
            .where(sa.text("client_key LIKE 'alice%'"))
            .values(completed_at=old)
        )
        conn.execute(
            tables["blockchain_audit_logs"]
            .update()
            .where(sa.text("operation = 'enqueue'"))
            .values(timestamp=utc_now() - timedelta(days=91))
        )
    assert run(db, CLEAN_QUEUE) == 3
    assert assets.queue_counts(db) == {"completed": 1}
    assert run(db, CLEAN_AUDIT) == 4
    assert assets.get_audit_log(db, operation="enqueue") == []
    assert len(assets.list_assets(db, ALICE)) == 3  # the assets stay
