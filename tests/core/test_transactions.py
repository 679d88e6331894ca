"""Blockchain transactions: logged pending, followed to their fate, counted exactly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chaindb import Conflict, InvalidInput, NotFound, core

SENDER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
FACTORY = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
BLOCK_HASH = "0x" + "bb" * 32


def tx_hash(n: int) -> str:
    return "0x" + f"{n:064x}"


def log(db, n: int = 1, **extra):
    fields = {
        "chain_id": 84532,
        "transaction_hash": tx_hash(n),
        "transaction_type": "challenge_resolve",
        "contract_address": FACTORY,
        "from_address": SENDER,
        "nonce": n,
        **extra,
    }
    return core.log_blockchain_transaction(db, **fields)


def count_txs(db) -> int:
    with db.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM blockchain_transactions")).scalar_one()


def test_a_logged_transaction_starts_pending(core_db):
    core.create_user(core_db, "admin")
    tx = log(core_db, user_id="admin", challenge_id=123, value_wei=2**200)
    assert (tx.status, tx.chain_id, tx.value_wei, tx.challenge_id) == (
        "pending",
        "eip155:84532",
        2**200,
        123,
    )
    assert tx.from_address == SENDER


def test_logging_the_same_hash_again_returns_the_first(core_db):
    first = log(core_db)
    again = core.log_blockchain_transaction(
        core_db,
        chain_id="eip155:84532",
        transaction_hash=tx_hash(1).upper().replace("0X", "0x"),
        transaction_type="challenge_resolve",
        from_address=SENDER.lower(),
        nonce=1,
    )
    assert again.id == first.id
    assert count_txs(core_db) == 1


def test_the_same_hash_with_a_different_nonce_is_a_conflict(core_db):
    log(core_db)
    with pytest.raises(Conflict, match="different nonce"):
        log(core_db, nonce=99)


def test_the_same_hash_on_another_chain_is_another_transaction(core_db):
    log(core_db)
    log(core_db, chain_id=1)
    assert count_txs(core_db) == 2
    with pytest.raises(Conflict, match="several chains: give chain_id"):
        core.update_blockchain_transaction_status(core_db, tx_hash(1), "failed", block_number=1)
    core.update_blockchain_transaction_status(core_db, tx_hash(1), "dropped", chain_id=1)


def test_pending_to_success_records_the_receipt(core_db):
    log(core_db)
    tx = core.update_blockchain_transaction_status(
        core_db,
        tx_hash(1),
        "success",
        block_number=5678910,
        block_hash=BLOCK_HASH,
        gas_used=21_000,
        gas_price_wei=3 * 10**9,
    )
    assert (tx.status, tx.block_number, tx.block_hash, tx.gas_used) == (
        "success",
        5678910,
        BLOCK_HASH,
        21_000,
    )
    assert tx.confirmed_at is not None
    repeated = core.update_blockchain_transaction_status(
        core_db, tx_hash(1), "success", block_number=5678910
    )
    assert repeated.updated_at == tx.updated_at, "repeating an update changes nothing"


def test_a_reorg_sends_a_mined_transaction_back_to_pending(core_db):
    log(core_db)
    core.update_blockchain_transaction_status(
        core_db, tx_hash(1), "failed", block_number=7, error_message="execution reverted"
    )
    tx = core.update_blockchain_transaction_status(core_db, tx_hash(1), "pending")
    assert (tx.status, tx.block_number, tx.block_hash, tx.confirmed_at) == (
        "pending",
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("path", "refused"),
    [(["success"], "dropped"), (["replaced"], "pending"), (["dropped", "replaced"], "success")],
)
def test_moves_outside_the_lifecycle_are_refused(core_db, path, refused):
    log(core_db)
    for status in path:
        core.update_blockchain_transaction_status(
            core_db, tx_hash(1), status, block_number=1, replaced_by_hash=tx_hash(2)
        )
    with pytest.raises(Conflict, match=f"cannot move from {path[-1]} to {refused}"):
        core.update_blockchain_transaction_status(core_db, tx_hash(1), refused, block_number=1)


def test_success_needs_a_block_and_replaced_needs_the_replacing_hash(core_db):
    log(core_db)
    with pytest.raises(InvalidInput, match="block_number"):
        core.update_blockchain_transaction_status(core_db, tx_hash(1), "success")
    with pytest.raises(InvalidInput, match="replaced_by_hash"):
        core.update_blockchain_transaction_status(core_db, tx_hash(1), "replaced")
    tx = core.update_blockchain_transaction_status(
        core_db, tx_hash(1), "replaced", replaced_by_hash=tx_hash(2)
    )
    assert tx.replaced_by_hash == tx_hash(2)


def test_unknown_hash_and_unknown_status(core_db):
    with pytest.raises(NotFound, match="is not logged"):
        core.update_blockchain_transaction_status(core_db, tx_hash(9), "failed", block_number=1)
    log(core_db)
    with pytest.raises(InvalidInput, match="status"):
        core.update_blockchain_transaction_status(core_db, tx_hash(1), "confirmed")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transaction_hash", "0x1234"),
        ("chain_id", "base"),
        ("value_wei", -1),
        ("value_wei", 2**256),
        ("from_address", "0xnope"),
        ("nonce", -1),
        ("transaction_type", "Bad Type"),
    ],
)
def test_bad_transaction_input_writes_nothing(core_db, field, value):
    with pytest.raises(InvalidInput) as error:
        log(core_db, **{field: value})
    assert error.value.field == field
    assert count_txs(core_db) == 0


def test_recent_transactions_newest_first_with_filters(core_db):
    for n in range(1, 6):
        log(core_db, n)
    core.update_blockchain_transaction_status(core_db, tx_hash(2), "failed", block_number=1)
    core.update_blockchain_transaction_status(core_db, tx_hash(4), "failed", block_number=2)
    recent = core.get_recent_blockchain_transactions(core_db, limit=3)
    assert [t.transaction_hash for t in recent] == [tx_hash(5), tx_hash(4), tx_hash(3)]
    failed = core.get_recent_blockchain_transactions(core_db, status="failed")
    assert [t.transaction_hash for t in failed] == [tx_hash(4), tx_hash(2)]
    with pytest.raises(InvalidInput, match="limit"):
        core.get_recent_blockchain_transactions(core_db, limit=0)


def test_stats_count_by_status_and_sum_value_exactly(core_db):
    log(core_db, 1, value_wei=2**255)
    log(core_db, 2, value_wei=2**255, transaction_type="challenge_create")
    log(core_db, 3, value_wei=1)
    core.update_blockchain_transaction_status(
        core_db, tx_hash(1), "success", block_number=1, gas_used=50_000
    )
    core.update_blockchain_transaction_status(
        core_db, tx_hash(2), "failed", block_number=1, gas_used=30_000
    )
    stats = core.get_blockchain_transaction_stats(core_db)
    assert stats["total"] == 3
    assert stats["by_status"] == {"success": 1, "failed": 1, "pending": 1}
    assert stats["by_type"] == {"challenge_resolve": 2, "challenge_create": 1}
    assert stats["total_value_wei"] == 2**256 + 1  # past uint256, still exact
    assert stats["total_gas_used"] == 80_000
    assert stats["success_rate"] == 0.5
    assert core.get_blockchain_transaction_stats(core_db, chain_id=1)["total"] == 0


def test_seed_monitoring_query_for_failed_transactions_runs(core_db):
    """Seed 000, 'View Recent Transactions', as written."""
    log(core_db, 1)
    core.update_blockchain_transaction_status(core_db, tx_hash(1), "failed", block_number=3)
    with core_db.read() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT * FROM blockchain_transactions \n"
                    "WHERE status = 'failed' \n"
                    "ORDER BY created_at DESC \n"
                    "LIMIT 10;"
                )
            )
            .mappings()
            .all()
        )
    assert [row["transaction_hash"] for row in rows] == [tx_hash(1)]
