"""Seed 000's SQL, copied verbatim from its "Database Views", "Stored Procedures" and
"Monitoring & Auditing" sections, run against data written through chaindb's API.

PostgreSQL only where the seed's SQL is PostgreSQL's (functions, NOW() - INTERVAL);
the views exist and answer the same on SQLite (last test).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import chaindb
from chaindb import challenges, core, ledger, migrations

USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
ADMIN = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

VIEWS_PENDING = "SELECT * FROM v_challenges_pending_resolution;"
VIEWS_POINTS = "SELECT * FROM v_user_points_summary ORDER BY current_points DESC;"
VIEWS_TX = "SELECT * FROM v_blockchain_tx_summary;"
PROC_UPDATE = "SELECT update_user_points_balance('user123');"
PROC_ENSURE = "SELECT ensure_user_points_ledger('user123');"
FAILED_TXS = """SELECT * FROM blockchain_transactions 
WHERE status = 'failed' 
ORDER BY created_at DESC 
LIMIT 10;"""
ESCROW_AMOUNTS = """SELECT 
  user_id,
  token_address,
  SUM(amount_escrowed - amount_released) as active_escrow
FROM challenge_escrow_records
WHERE status = 'locked'
GROUP BY user_id, token_address;"""
LEADERBOARD = """SELECT 
  username,
  current_points as points,
  total_earned,
  total_burned,
  transaction_count as challenges_won
FROM v_user_points_summary
ORDER BY current_points DESC
LIMIT 100;"""
SIGNATURE_AUDIT = """SELECT 
  a.challenge_id,
  a.admin_address,
  a.winner,
  a.is_verified,
  a.signed_at
FROM admin_signatures_log a
WHERE a.signed_at > NOW() - INTERVAL '24 hours'
ORDER BY a.signed_at DESC;"""


def tx_hash(n: int) -> str:
    return "0x" + f"{n:064x}"


@pytest.fixture
def bantah(request, tmp_path):
    """A Bantah-like database, filled through the API. PostgreSQL unless asked otherwise."""
    backend = getattr(request, "param", "postgresql")
    url = (
        f"sqlite:///{tmp_path}/b.sqlite3"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    db = chaindb.connect(url)
    migrations.migrate(db)
    for user_id, name in (("user123", "alice"), ("u2", "bob"), ("u3", "carol")):
        core.create_user(db, user_id, name)
    record = ledger.record_points_transaction
    record(db, user_id="user123", transaction_type="earned_challenge", amount=100, challenge_id=1)
    record(db, user_id="user123", transaction_type="earned_challenge", amount=2**70)
    record(db, user_id="user123", transaction_type="burned_usage", amount=10)
    record(db, user_id="u2", transaction_type="earned_challenge", amount=50)
    usdc = ledger.ensure_token_asset(
        db, chain_id=8453, token_address=USDC, symbol="USDC", decimals=6
    )
    open_one = challenges.create_challenge(
        db, title="open", challenger="user123", challenged="u2", payment_asset=usdc.code
    )
    challenges.activate_challenge(db, open_one.id)
    challenges.create_escrow_record(
        db, challenge_id=open_one.id, user_id="user123", side="YES", amount_escrowed=1_000_000
    )
    challenges.create_escrow_record(
        db, challenge_id=open_one.id, user_id="u2", side="NO", amount_escrowed=2_000_000
    )
    challenges.create_escrow_record(
        db, challenge_id=open_one.id, user_id="u3", side="NO", amount_escrowed=3
    )
    for n, (status, value) in enumerate(
        [("failed", 5), ("failed", 2**65), ("success", 7), ("pending", 1)]
    ):
        core.log_blockchain_transaction(
            db,
            chain_id=84532,
            transaction_hash=tx_hash(n + 1),
            transaction_type="challenge_resolve",
            value_wei=value,
        )
        if status != "pending":
            core.update_blockchain_transaction_status(
                db, tx_hash(n + 1), status, block_number=10 + n, gas_used=21_000
            )
    core.log_admin_signature(
        db,
        admin_address=ADMIN,
        message_hash="0x" + "aa" * 32,
        signature="0x" + "11" * 65,
        challenge_id=open_one.id,
        winner="user123",
    )
    core.log_admin_signature(
        db,
        admin_address=ADMIN,
        message_hash="0x" + "bb" * 32,
        signature="0x" + "22" * 65,
        challenge_id=99,
        signed_at=datetime.now(UTC) - timedelta(days=2),
    )
    yield db, open_one
    db.close()


def run(db, sql: str) -> list[dict]:
    with db.transaction() as conn:
        return [dict(row) for row in conn.exec_driver_sql(sql).mappings()]


def test_the_seed_views_answer(bantah):
    db, open_one = bantah
    assert run(db, VIEWS_PENDING) == [
        {
            "id": open_one.id,
            "title": "open",
            "status": "active",
            "on_chain_status": "active",
            "challenger": "user123",
            "challenged": "u2",
            "yes_participants": 1,
            "no_participants": 2,
            "created_at": open_one.created_at,
        }
    ]
    points = run(db, VIEWS_POINTS)
    assert [
        (
            r["user_id"],
            r["username"],
            r["current_points"],
            r["total_earned"],
            r["total_burned"],
            r["locked_points"],
            r["transaction_count"],
        )
        for r in points
    ] == [
        ("user123", "alice", 2**70 + 90, 2**70 + 100, 10, 0, 3),
        ("u2", "bob", 50, 50, 0, 0, 1),
    ]
    summary = sorted(run(db, VIEWS_TX), key=lambda r: r["status"])
    assert [
        (r["chain_id"], r["status"], r["tx_count"], r["total_gas"], r["total_value"])
        for r in summary
    ] == [
        ("eip155:84532", "failed", 2, 42_000, 2**65 + 5),
        ("eip155:84532", "pending", 1, 0, 1),
        ("eip155:84532", "success", 1, 21_000, 7),
    ]


def test_the_seed_procedures_run(bantah):
    db, _open = bantah
    assert run(db, PROC_UPDATE) == [{"update_user_points_balance": 2**70 + 90}]
    account_id = ledger.get_account(db, "user:user123").id
    assert run(db, PROC_ENSURE) == [{"ensure_user_points_ledger": account_id}]
    core.create_user(db, "newcomer")
    (created,) = run(db, "SELECT ensure_user_points_ledger('newcomer');")
    assert ledger.get_account(db, "user:newcomer").id == created["ensure_user_points_ledger"]
    assert ledger.check_ledger(db).ok, "the procedures agree with the write path"


def test_the_seed_monitoring_queries_run(bantah):
    db, open_one = bantah
    failed = run(db, FAILED_TXS)
    assert [r["transaction_hash"] for r in failed] == [tx_hash(2), tx_hash(1)]
    escrow = sorted(run(db, ESCROW_AMOUNTS), key=lambda r: r["user_id"])
    assert [(r["user_id"], r["token_address"], r["active_escrow"]) for r in escrow] == [
        ("u2", USDC.lower(), 2_000_000),
        ("u3", USDC.lower(), 3),
        ("user123", USDC.lower(), 1_000_000),
    ]
    assert run(db, LEADERBOARD) == [
        {
            "username": "alice",
            "points": 2**70 + 90,
            "total_earned": 2**70 + 100,
            "total_burned": 10,
            "challenges_won": 3,
        },
        {
            "username": "bob",
            "points": 50,
            "total_earned": 50,
            "total_burned": 0,
            "challenges_won": 1,
        },
    ]
    audit = run(db, SIGNATURE_AUDIT)
    assert [
        (r["challenge_id"], r["admin_address"], r["winner"], r["is_verified"]) for r in audit
    ] == [(open_one.id, ADMIN.lower(), "user123", False)]


@pytest.mark.parametrize("bantah", ["sqlite"], indirect=True)
def test_the_views_answer_the_same_on_sqlite(bantah):
    """SQLite only: the same views, read through chaindb (amounts come back as ints)."""
    db, _open = bantah
    from chaindb.core.schema import v_blockchain_tx_summary
    from chaindb.ledger.schema import v_user_points_summary

    with db.read() as conn:
        points = conn.execute(
            sa.select(v_user_points_summary).order_by(v_user_points_summary.c.current_points.desc())
        ).all()
        summary = conn.execute(sa.select(v_blockchain_tx_summary)).all()
        pending = conn.exec_driver_sql(VIEWS_PENDING).mappings().one()
    assert [(p.user_id, p.current_points) for p in points] == [("user123", 2**70 + 90), ("u2", 50)]
    assert sorted((s.status, s.total_value) for s in summary) == [
        ("failed", 2**65 + 5),
        ("pending", 1),
        ("success", 7),
    ]
    assert (pending["yes_participants"], pending["no_participants"]) == (1, 2)
