"""The oracle's reconciliation with the chain: what a reorg took away is sent again, and
attempts whose transaction is settled on chain are settled in oracle_sync_logs and on their
creator (see oracle.py for the pass)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import chain, core
from chaindb.creators import milestones
from chaindb.creators.profiles import Creator, update_creator
from chaindb.creators.schema import creators
from chaindb.creators.sync_log import SyncLog, logs_of_transaction, open_logs, settle_log
from chaindb.database import Database
from chaindb.types import utc_now

ORACLE_CONTRACT = "CreatorOracle"
TRANSACTION_TYPES = ("oracle_update_metrics", "oracle_create_coin")
SETTLED_PER_TRANSACTION = 100


@dataclass
class SyncReport:
    sent: int = 0
    confirmed: int = 0
    failed: int = 0
    resent: int = 0
    coins_requested: int = 0
    coins_created: int = 0
    reorged: int = 0
    paused: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        text = (
            f"{self.sent} sent, {self.confirmed} confirmed, {self.failed} failed, "
            f"{self.resent} resent after a reorg, coins {self.coins_requested} requested / "
            f"{self.coins_created} created"
        )
        return f"{text}; paused: {self.paused}" if self.paused else text


def oracle_contract(node: Any, address: str) -> Any:
    return node.w3.eth.contract(
        address=address, abi=chain.contract_artifact(ORACLE_CONTRACT)["abi"]
    )


def resend_reorged(db: Database, node: Any, report: SyncReport) -> None:
    """Oracle transactions pending again and unknown to the node: a reorg took their block.
    The attempt that reached the node is sent again, the same signed bytes, in nonce order."""
    pending = [
        tx
        for kind in TRANSACTION_TYPES
        for tx in core.find_blockchain_transactions(
            db, chain_id=node.chain_id, statuses=("pending",), transaction_type=kind
        )
    ]
    for tx in sorted(pending, key=lambda tx: tx.nonce or 0):
        with db.transaction() as conn:
            reached = [
                log
                for log in logs_of_transaction(conn, tx.transaction_hash)
                if log.status in ("PENDING", "SUCCESS")
            ]
            if not reached or node.transaction(tx.transaction_hash) is not None:
                continue
            for log in reached:
                if log.status == "SUCCESS":
                    settle_log(conn, log.id, "PENDING", error_message="reorged: sent again")
                    _mark_in_flight(conn, log)
        try:
            chain.rebroadcast(db, node, tx)
        except chain.SendFailed:  # its nonce went to another transaction: the tracker says which
            continue
        report.resent += 1


def _mark_in_flight(conn: Connection, log: SyncLog) -> None:
    if log.operation == "UPDATE_METRICS" and log.creator_id is not None:
        update_creator(conn, log.creator_id, sync_tx_hash=log.transaction_hash)
    elif log.creator_id is not None:
        update_creator(conn, log.creator_id, coin_status="pending")


def settle_attempts(db: Database, node: Any, address: str, report: SyncReport) -> None:
    """PENDING attempts whose transaction is final, reverted, dropped or replaced; up to
    SETTLED_PER_TRANSACTION of them to a database transaction."""
    with db.read() as conn:
        waiting = open_logs(conn)
    for start in range(0, len(waiting), SETTLED_PER_TRANSACTION):
        with db.transaction() as conn:
            for log in waiting[start : start + SETTLED_PER_TRANSACTION]:
                _settle_one(conn, node, address, log, report)


def _settle_one(
    conn: Connection, node: Any, address: str, log: SyncLog, report: SyncReport
) -> None:
    tx = core.get_blockchain_transaction(conn, log.transaction_hash, chain_id=log.chain_id)
    if tx is None or (tx.status == "success" and not tx.is_final) or tx.status == "pending":
        return
    if tx.status != "success":
        error_class = "execution" if tx.status == "failed" else "dropped"
        _failed(conn, log, error_class, tx.error_message or tx.status)
        report.failed += 1
        return
    coin = None
    if log.operation == "CREATE_COIN":
        contract = oracle_contract(node, address)
        coin = node.call(lambda: contract.functions.coinOf(log.creator_id).call())
    _succeeded(conn, node, log, tx, coin)
    report.confirmed += 1
    report.coins_created += coin is not None


def _succeeded(
    conn: Connection, node: Any, log: SyncLog, tx: core.BlockchainTransaction, coin: str | None
) -> None:
    settle_log(
        conn,
        log.id,
        "SUCCESS",
        gas_used=tx.gas_used,
        block_number=tx.block_number,
        gas_price_wei=tx.effective_gas_price_wei or tx.gas_price_wei,
        error_message=None,
    )
    creator = lock_creator(conn, log.creator_id)
    values: dict[str, Any] = {"last_sync_at": utc_now(), "sync_error_count": 0}
    values["last_sync_error"] = None
    if log.operation == "UPDATE_METRICS":
        values["synced_sequence"] = max(creator.synced_sequence, log.sequence or 0)
        if creator.sync_tx_hash == tx.transaction_hash:
            values["sync_tx_hash"] = None
    else:
        values |= {
            "coin_status": "created",
            "coin_chain_id": node.chain_id,
            "coin_address": coin,
            "coin_symbol": (log.metrics or {}).get("symbol"),
            "coin_tx_hash": tx.transaction_hash,
            "coin_created_at": utc_now(),
        }
        milestones.mark_processed(
            conn, creator.id, "PLAYS", milestones.COIN_PLAYS_MIN, tx.transaction_hash
        )
    update_creator(conn, creator.id, **values)


def _failed(conn: Connection, log: SyncLog, error_class: str, message: str) -> None:
    settle_log(conn, log.id, "FAILED", error_class=error_class, error_message=message)
    creator = lock_creator(conn, log.creator_id)
    values: dict[str, Any] = {
        "sync_error_count": creator.sync_error_count + 1,
        "last_sync_error": f"{log.operation}: {error_class}: {message}"[:1_000],
    }
    if log.operation == "UPDATE_METRICS" and creator.sync_tx_hash == log.transaction_hash:
        values |= {"sync_tx_hash": None, "needs_sync": True}
    elif log.operation == "CREATE_COIN" and creator.coin_status == "pending":
        values["coin_status"] = "eligible"
    update_creator(conn, creator.id, **values)


def lock_creator(conn: Connection, creator_id: int | None) -> Creator:
    row = conn.execute(
        sa.select(creators).where(creators.c.id == creator_id).with_for_update()
    ).one()
    return Creator.model_validate(row)
