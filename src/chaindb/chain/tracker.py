"""Follow sent transactions to finality, and heal reorgs.

One pass (`track`):
1. Reorgs: a mined transaction whose recorded block hash is no longer the canonical hash at its
   height goes back to pending; its applied effects are undone by compensating transfers.
2. Pending transactions: a receipt makes them success or failed (block, gas, effective gas
   price); a nonce used by another transaction makes them replaced (the replacing hash kept);
   one the node has not seen for dropped_after_s becomes dropped.
3. Confirmations: head - block + 1; at the chain's depth the transaction is final and its
   effects are applied, in the same database transaction.
Each transaction's changes commit on their own, so a pass interrupted half-way loses nothing
and the next pass carries on. A node that is not the chain this database follows is refused
before anything changes (chain.pins): on another chain every recorded block would look reorged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, TypeVar

from chaindb.chain.client import Chain
from chaindb.chain.effects import apply_effects, compensate_effects
from chaindb.chain.pins import require_followed_chain
from chaindb.core import (
    BlockchainTransaction,
    find_blockchain_transactions,
    log_security_event,
    mark_seen,
    set_confirmations,
    update_blockchain_transaction_status,
)
from chaindb.database import Database
from chaindb.types import utc_now

MINED = ("success", "failed")
REORG_WINDOW_BLOCKS = 256  # mined transactions this close to the head are checked each pass
REPLACEMENT_SCAN_BLOCKS = 256  # how far back to look for the transaction that took a nonce
DEFAULT_DROPPED_AFTER_S = 600.0

# What a pass is doing, for a progress bar: (step, items done so far, items in the step).
Progress = Callable[[str, int, int], None]
T = TypeVar("T")


def _no_progress(_step: str, _done: int, _total: int) -> None:
    pass


def _reported(items: list[T], step: str, progress: Progress) -> Iterator[T]:
    """The items, telling `progress` how many are done before each one and once all are."""
    for done, item in enumerate(items):
        progress(step, done, len(items))
        yield item
    if items:
        progress(step, len(items), len(items))


@dataclass
class TrackReport:
    head: int = 0
    mined: int = 0
    finalized: int = 0
    reorged: int = 0
    replaced: int = 0
    dropped: int = 0
    effects_applied: int = 0
    effects_undone: int = 0

    def add(self, other: TrackReport) -> None:
        for name, value in asdict(other).items():
            if name != "head":
                setattr(self, name, getattr(self, name) + value)
        self.head = other.head

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"head {self.head}: {self.mined} mined, {self.finalized} final, {self.reorged} "
            f"reorged, {self.replaced} replaced, {self.dropped} dropped, effects "
            f"+{self.effects_applied}/-{self.effects_undone}"
        )


def track(
    db: Database,
    chain: Chain,
    *,
    dropped_after_s: float | None = None,
    progress: Progress | None = None,
) -> TrackReport:
    """One pass over this chain's transactions (see the module's doc); `progress` hears of
    each transaction or block looked at."""
    require_followed_chain(db, chain, new_chain_ok=False)
    progress = progress or _no_progress
    report = TrackReport(head=chain.head())
    _heal_reorgs(db, chain, report, progress)
    dropped_after_s = DEFAULT_DROPPED_AFTER_S if dropped_after_s is None else dropped_after_s
    _follow_pending(db, chain, report, dropped_after_s, progress)
    _count_confirmations(db, chain, report, progress)
    return report


def _heal_reorgs(db: Database, chain: Chain, report: TrackReport, progress: Progress) -> None:
    mined = find_blockchain_transactions(
        db,
        chain_id=chain.chain_id,
        statuses=MINED,
        block_number_min=report.head - REORG_WINDOW_BLOCKS,
    )
    heights = sorted({tx.block_number for tx in mined})
    canonical = {
        n: chain.block_hash(n) for n in _reported(heights, "checking blocks for reorgs", progress)
    }
    for tx in mined:
        if canonical[tx.block_number] == tx.block_hash:
            continue
        with db.transaction() as conn:
            report.effects_undone += compensate_effects(conn, chain.chain_id, tx.transaction_hash)
            update_blockchain_transaction_status(
                conn, tx.transaction_hash, "pending", chain_id=chain.chain_id
            )
            log_security_event(
                conn,
                event_type="chain_reorg",
                severity="warning",
                description=(
                    f"{tx.transaction_hash}: block {tx.block_number} {tx.block_hash} left the "
                    f"canonical chain; the transaction is pending again"
                ),
                metadata={"chain_id": chain.chain_id, "was_final": tx.is_final},
            )
        report.reorged += 1


def _follow_pending(
    db: Database, chain: Chain, report: TrackReport, dropped_after_s: float, progress: Progress
) -> None:
    mined_nonces: dict[str, int] = {}
    pending = find_blockchain_transactions(db, chain_id=chain.chain_id, statuses=("pending",))
    for tx in _reported(pending, "following pending transactions", progress):
        receipt = chain.receipt(tx.transaction_hash)
        if receipt is not None:
            _record_receipt(db, chain, tx, receipt)
            report.mined += 1
        elif chain.transaction(tx.transaction_hash) is not None:
            mark_seen(db, tx.id)
        elif (
            tx.from_address is not None
            and tx.nonce is not None
            and tx.nonce
            < mined_nonces.setdefault(tx.from_address, chain.mined_nonce(tx.from_address))
        ):
            replacement = _find_replacement(db, chain, tx, report.head)
            if replacement:
                update_blockchain_transaction_status(
                    db,
                    tx.transaction_hash,
                    "replaced",
                    chain_id=chain.chain_id,
                    replaced_by_hash=replacement,
                )
                report.replaced += 1
            else:
                _drop(
                    db,
                    chain,
                    tx,
                    f"nonce {tx.nonce} was used by a transaction not found in "
                    f"the last {REPLACEMENT_SCAN_BLOCKS} blocks",
                )
                report.dropped += 1
        elif utc_now() - (tx.last_seen_at or tx.created_at) > timedelta(seconds=dropped_after_s):
            _drop(db, chain, tx, f"not seen by the node for over {dropped_after_s:g} s")
            report.dropped += 1


def _count_confirmations(
    db: Database, chain: Chain, report: TrackReport, progress: Progress
) -> None:
    unfinal = find_blockchain_transactions(
        db, chain_id=chain.chain_id, statuses=MINED, is_final=False
    )
    for tx in _reported(unfinal, "counting confirmations", progress):
        confirmations = report.head - tx.block_number + 1
        final = confirmations >= chain.confirmations_required
        if confirmations == tx.confirmations and not final:
            continue
        with db.transaction() as conn:
            set_confirmations(conn, tx.id, confirmations, final=final)
            if final and tx.status == "success":
                report.effects_applied += apply_effects(
                    conn, chain.chain_id, tx.transaction_hash, tx.block_hash
                )
        report.finalized += final


def _record_receipt(db: Database, chain: Chain, tx: BlockchainTransaction, receipt: Any) -> None:
    update_blockchain_transaction_status(
        db,
        tx.transaction_hash,
        "success" if receipt["status"] == 1 else "failed",
        chain_id=chain.chain_id,
        block_number=int(receipt["blockNumber"]),
        block_hash="0x" + bytes(receipt["blockHash"]).hex(),
        gas_used=int(receipt["gasUsed"]),
        effective_gas_price_wei=int(receipt.get("effectiveGasPrice") or 0) or None,
        error_message=None if receipt["status"] == 1 else "reverted",
    )


def _find_replacement(
    db: Database, chain: Chain, tx: BlockchainTransaction, head: int
) -> str | None:
    """The transaction that used tx's nonce: from our own log, else from recent blocks."""
    logged = find_blockchain_transactions(
        db,
        chain_id=chain.chain_id,
        from_address=tx.from_address,
        nonce=tx.nonce,
        other_than_hash=tx.transaction_hash,
        statuses=MINED,
    )
    if logged:
        return logged[0].transaction_hash
    sender = (tx.from_address or "").lower()
    for number in range(head, max(-1, head - REPLACEMENT_SCAN_BLOCKS), -1):
        block = chain.call(lambda n=number: chain.w3.eth.get_block(n, full_transactions=True))
        for candidate in block["transactions"]:
            if candidate["from"].lower() == sender and candidate["nonce"] == tx.nonce:
                return "0x" + bytes(candidate["hash"]).hex()
    return None


def _drop(db: Database, chain: Chain, tx: BlockchainTransaction, why: str) -> None:
    update_blockchain_transaction_status(
        db, tx.transaction_hash, "dropped", chain_id=chain.chain_id, error_message=why
    )
