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
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Connection

from chaindb import chain, core
from chaindb.creators.dashboard import monthly_revenue
from chaindb.creators.engagement import creator_engagement
from chaindb.creators.oracle_send import SendOptions, SyncPaused, send_operation
from chaindb.creators.oracle_settle import (
    ORACLE_CONTRACT,
    SyncReport,
    lock_creator,
    oracle_contract,
    resend_reorged,
    settle_attempts,
)
from chaindb.creators.profiles import Creator, update_creator
from chaindb.creators.schema import creator_daily_stats, creators
from chaindb.database import Database
from chaindb.errors import NotFound
from chaindb.types import utc_now

CREATORS_PER_PASS_MAX = 1_000
MONTHLY_DAYS = 30
SYMBOL_CHARS_MAX = 8


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
        resend_reorged(db, node, report)
        settle_attempts(db, node, address, report)
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
            creator = lock_creator(conn, creator_id)
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
        creator = lock_creator(conn, creator_id)
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
            creator = lock_creator(conn, creator_id)
            update_creator(
                conn,
                creator_id,
                needs_sync=True,
                sync_error_count=creator.sync_error_count + 1,
                last_sync_error=f"UPDATE_METRICS: {error_class}: {message}"[:1_000],
            )

    return due
