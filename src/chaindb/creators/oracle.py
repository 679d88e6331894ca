"""The oracle sync (seed 004's "Automated Metrics Sync"): creator metrics from the database to
the CreatorOracle contract, and the creator coin at the milestone.

One pass (`sync_once`), cron-friendly:
1. the chain bridge's tracker follows every transaction to finality and notices reorgs;
2. reconcile: an oracle transaction that a reorg took off the chain is sent again (the same
   signed bytes, through chain.rebroadcast); an attempt whose transaction is final becomes
   SUCCESS (its creator's synced sequence moves, or its coin is recorded); one reverted,
   dropped or replaced becomes FAILED and its creator is due again;
3. CREATE_COIN for each creator whose coin is eligible and whose latest metrics are final on
   chain (the contract checks the milestone on the metrics it holds);
4. UPDATE_METRICS for each creator whose metrics changed since the last one sent (the seed's
   getEligibleForSync: creators.needs_sync, a partial index), with no update in flight. Each
   carries the creator's next sequence: the contract refuses an older snapshot.
At most CREATORS_PER_PASS_MAX creators per step. An open circuit breaker, or a node down
through all the bridge's retries, pauses the pass (SyncReport.paused).
Run one oracle per sender account (nonces are the sender's).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Connection

from chaindb import chain, core
from chaindb.creators import milestones
from chaindb.creators.dashboard import monthly_revenue
from chaindb.creators.engagement import creator_engagement
from chaindb.creators.oracle_send import SendOptions, SyncPaused, send_operation
from chaindb.creators.profiles import Creator, update_creator
from chaindb.creators.schema import creator_daily_stats, creators
from chaindb.creators.sync_log import SyncLog, logs_of_transaction, open_logs, settle_log
from chaindb.database import Database
from chaindb.errors import NotFound
from chaindb.types import utc_now

ORACLE_CONTRACT = "CreatorOracle"
TRANSACTION_TYPES = ("oracle_update_metrics", "oracle_create_coin")
CREATORS_PER_PASS_MAX = 1_000
SETTLED_PER_TRANSACTION = 100
MONTHLY_DAYS = 30
SYMBOL_CHARS_MAX = 8


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


def deploy_oracle(
    db: Database, node: Any, deployer: LocalAccount, *, oracle_address: str | None = None
) -> str:
    """Deploy CreatorOracle (the oracle allowed to write: `oracle_address`, else the deployer)
    and record the deployment; returns its address."""
    artifact = chain.contract_artifact(ORACLE_CONTRACT)
    factory = node.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    data = factory.constructor(oracle_address or deployer.address).data_in_transaction
    tx = chain.send_transaction(
        db, node, deployer, {"data": data}, transaction_type="contract_deploy"
    )
    receipt = chain.wait_for_receipt(node, tx.transaction_hash)
    deployment = core.record_contract_deployment(
        db,
        contract_name=ORACLE_CONTRACT,
        contract_address=receipt["contractAddress"],
        chain_id=node.chain_id,
        abi=artifact["abi"],
        deployment_tx_hash=tx.transaction_hash,
        deployer_address=deployer.address,
        block_number=int(receipt["blockNumber"]),
    )
    return deployment.contract_address


def deployed_oracle(db: Database, node: Any) -> str:
    deployment = core.get_contract_by_name(db, ORACLE_CONTRACT, node.chain_id)
    if deployment is None:
        raise NotFound(f"no {ORACLE_CONTRACT} deployed on {node.chain_id}: deploy_oracle first")
    return deployment.contract_address


def on_chain_metrics(node: Any, address: str, creator_id: int) -> dict[str, int]:
    """What the contract holds for the creator."""
    values = node.call(
        lambda: oracle_contract(node, address).functions.metricsOf(creator_id).call()
    )
    names = ("sequence", "updated_at", "total_plays", "monthly_plays", "followers")
    return dict(zip((*names, "monthly_revenue_wei", "engagement_bps"), values, strict=True))


def sync_once(
    db: Database,
    node: Any,
    *,
    sender: LocalAccount,
    oracle_address: str | None = None,
    options: SendOptions | None = None,
    limit: int = CREATORS_PER_PASS_MAX,
) -> SyncReport:
    """One pass of the oracle (see the module's doc)."""
    options = options or SendOptions()
    report = SyncReport()
    address = oracle_address or deployed_oracle(db, node)
    try:
        report.reorged = chain.track(db, node).reorged
        _resend_reorged(db, node, report)
        _settle(db, node, address, report)
        _create_coins(db, node, sender, address, options, report, min(limit, CREATORS_PER_PASS_MAX))
        _update_metrics(
            db, node, sender, address, options, report, min(limit, CREATORS_PER_PASS_MAX)
        )
    except (SyncPaused, chain.ChainUnavailable) as paused:
        report.paused = str(paused)
    return report


def run_oracle(
    db: Database,
    node: Any,
    *,
    sender: LocalAccount,
    interval_s: float,
    once: bool = False,
    stop: threading.Event | None = None,
    on_pass: Callable[[SyncReport], None] | None = None,
    options: SendOptions | None = None,
) -> None:
    """Passes every `interval_s` until `stop` is set (SIGTERM), or one with `once`. A stop
    lets the current pass finish, and ends a wait before a retry at once."""
    stop = stop or threading.Event()
    options = options or SendOptions()
    options.interrupt = stop
    node.resilience.interrupt = stop
    while not stop.is_set():
        report = sync_once(db, node, sender=sender, options=options)
        if on_pass is not None:
            on_pass(report)
        if once:
            return
        stop.wait(interval_s)


def creator_metrics(conn: Connection, creator: Creator) -> dict[str, int]:
    """The figures UPDATE_METRICS sends: from counters and at most a month of daily rows."""
    today = utc_now().date()
    monthly_plays = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(creator_daily_stats.c.plays), 0)).where(
            creator_daily_stats.c.creator_id == creator.id,
            creator_daily_stats.c.day > today - timedelta(days=MONTHLY_DAYS),
        )
    ).scalar_one()
    revenue = monthly_revenue(conn, creator.id, month=today)
    return {
        "total_plays": creator.total_plays,
        "monthly_plays": int(monthly_plays),
        "followers": creator.follower_count,
        "monthly_revenue_wei": revenue.track_sales_wei + revenue.tips_wei,
        "engagement_bps": creator_engagement(creator).basis_points,
    }


def _resend_reorged(db: Database, node: Any, report: SyncReport) -> None:
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


def _settle(db: Database, node: Any, address: str, report: SyncReport) -> None:
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
    creator = _lock(conn, log.creator_id)
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
    creator = _lock(conn, log.creator_id)
    values: dict[str, Any] = {
        "sync_error_count": creator.sync_error_count + 1,
        "last_sync_error": f"{log.operation}: {error_class}: {message}"[:1_000],
    }
    if log.operation == "UPDATE_METRICS" and creator.sync_tx_hash == log.transaction_hash:
        values |= {"sync_tx_hash": None, "needs_sync": True}
    elif log.operation == "CREATE_COIN" and creator.coin_status == "pending":
        values["coin_status"] = "eligible"
    update_creator(conn, creator.id, **values)


def _create_coins(
    db: Database,
    node: Any,
    sender: LocalAccount,
    address: str,
    options: SendOptions,
    report: SyncReport,
    limit: int,
) -> None:
    """Coins for eligible creators whose latest metrics are final on chain."""
    with db.read() as conn:
        ids = conn.scalars(
            sa.select(creators.c.id)
            .where(
                creators.c.coin_status == "eligible",
                sa.not_(creators.c.needs_sync),
                creators.c.sync_tx_hash.is_(None),
                creators.c.synced_sequence == creators.c.sync_sequence,
                creators.c.synced_sequence > 0,
            )
            .order_by(creators.c.id)
            .limit(limit)
        ).all()
    contract = oracle_contract(node, address)
    for creator_id in ids:
        with db.transaction() as conn:
            claimed = conn.execute(
                creators.update()
                .where(creators.c.id == creator_id, creators.c.coin_status == "eligible")
                .values(coin_status="pending", updated_at=utc_now())
                .returning(creators.c.stage_name)
            ).first()
        if claimed is None:
            continue
        symbol = coin_symbol(claimed.stage_name, creator_id)
        name = f"{claimed.stage_name[:40]} Coin"
        data = contract.encode_abi("createCoin", [creator_id, name, symbol])
        sent = send_operation(
            db,
            node,
            sender,
            {"to": address, "data": data},
            operation="CREATE_COIN",
            creator_id=creator_id,
            options=options,
            metrics={"symbol": symbol, "name": name},
            on_failure=_give_back_coin(db, creator_id),
        )
        report.coins_requested += sent is not None


def coin_symbol(stage_name: str, creator_id: int) -> str:
    """The coin's ticker: the stage name's ASCII letters and digits, upper case (else C<id>)."""
    letters = "".join(c for c in stage_name.upper() if c.isascii() and c.isalnum())
    return letters[:SYMBOL_CHARS_MAX] or f"C{creator_id}"[:SYMBOL_CHARS_MAX]


def _give_back_coin(db: Database, creator_id: int) -> Callable[[str, str], None]:
    def give_back(error_class: str, message: str) -> None:
        with db.transaction() as conn:
            creator = _lock(conn, creator_id)
            update_creator(
                conn,
                creator_id,
                coin_status="eligible",
                sync_error_count=creator.sync_error_count + 1,
                last_sync_error=f"CREATE_COIN: {error_class}: {message}"[:1_000],
            )

    return give_back


def _update_metrics(
    db: Database,
    node: Any,
    sender: LocalAccount,
    address: str,
    options: SendOptions,
    report: SyncReport,
    limit: int,
) -> None:
    with db.read() as conn:
        ids = conn.scalars(
            sa.select(creators.c.id)
            .where(creators.c.needs_sync, creators.c.sync_tx_hash.is_(None))
            .order_by(creators.c.id)
            .limit(limit)
        ).all()
    contract = oracle_contract(node, address)
    for creator_id in ids:
        claim = _claim_update(db, creator_id)
        if claim is None:
            continue
        sequence, metrics = claim
        data = contract.encode_abi(
            "updateMetrics",
            [
                creator_id,
                sequence,
                metrics["total_plays"],
                metrics["monthly_plays"],
                metrics["followers"],
                metrics["monthly_revenue_wei"],
                metrics["engagement_bps"],
            ],
        )
        sent = send_operation(
            db,
            node,
            sender,
            {"to": address, "data": data},
            operation="UPDATE_METRICS",
            creator_id=creator_id,
            options=options,
            sequence=sequence,
            metrics=metrics,
            on_failure=_due_again(db, creator_id),
            on_sent=lambda conn, tx, creator_id=creator_id: update_creator(
                conn, creator_id, sync_tx_hash=tx.transaction_hash
            ),
        )
        report.sent += sent is not None


def _claim_update(db: Database, creator_id: int) -> tuple[int, dict[str, int]] | None:
    """Take the creator's news (needs_sync off, the next sequence) and its metrics, in one
    transaction: another oracle process finds nothing left to take."""
    with db.transaction() as conn:
        creator = _lock(conn, creator_id)
        if not creator.needs_sync or creator.sync_tx_hash is not None:
            return None
        metrics = creator_metrics(conn, creator)
        claimed = update_creator(
            conn, creator_id, needs_sync=False, sync_sequence=creator.sync_sequence + 1
        )
        return claimed.sync_sequence, metrics


def _due_again(db: Database, creator_id: int) -> Callable[[str, str], None]:
    def due(error_class: str, message: str) -> None:
        with db.transaction() as conn:
            creator = _lock(conn, creator_id)
            update_creator(
                conn,
                creator_id,
                needs_sync=True,
                sync_error_count=creator.sync_error_count + 1,
                last_sync_error=f"UPDATE_METRICS: {error_class}: {message}"[:1_000],
            )

    return due


def _lock(conn: Connection, creator_id: int | None) -> Creator:
    row = conn.execute(
        sa.select(creators).where(creators.c.id == creator_id).with_for_update()
    ).one()
    return Creator.model_validate(row)
