"""Seed 000's "Populate Historical Data": points for challenges resolved off-chain.

Each winner gets the challenge's `amount` in points, once: the transfer's idempotency key is
'backfill:challenge:<id>', so a second run awards nothing more. Challenges resolved on chain
are skipped (resolve_challenge already paid them). Work goes in bounded batches, one
transaction each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import ledger
from chaindb.challenges.schema import challenges
from chaindb.database import Database, reading
from chaindb.errors import InvalidInput

BATCH_SIZE_MAX = 5_000
REASON = "Migrated from off-chain"


@dataclass
class BackfillReport:
    challenges_seen: int = 0
    awarded: int = 0
    points_awarded: int = 0
    already_awarded: int = 0
    skipped: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def backfill_key(challenge_id: int) -> str:
    return f"backfill:challenge:{challenge_id}"


def backfill_points(
    target: Database | Connection,
    *,
    batch_size: int = 500,
    dry_run: bool = False,
    on_batch: Callable[[BackfillReport], None] | None = None,
) -> BackfillReport:
    """Award retroactive points to the winners of challenges resolved off-chain. `on_batch` is
    called with the report so far after each batch (for progress)."""
    if not 1 <= batch_size <= BATCH_SIZE_MAX:
        raise InvalidInput("batch_size", batch_size, f"must be between 1 and {BATCH_SIZE_MAX}")
    report = BackfillReport(dry_run=dry_run)
    last_id = 0
    while batch := _resolved_off_chain(target, last_id, batch_size):
        last_id = batch[-1].id
        report.challenges_seen += len(batch)
        with reading(target) as conn:
            done = _already_awarded(conn, [row.id for row in batch])
        requests = []
        for row in batch:
            winner = row.challenger if row.result == "challenger_won" else row.challenged
            if row.id in done:
                report.already_awarded += 1
            elif winner is None or row.amount == 0:
                report.skipped += 1
            else:
                requests.append(_award(row.id, winner, row.amount))
        if requests and not dry_run:
            ledger.transfer_batch(target, requests)
        report.awarded += len(requests)
        report.points_awarded += sum(request.amount for request in requests)
        if on_batch is not None:
            on_batch(report)
    return report


def _award(challenge_id: int, winner: str, amount: int) -> ledger.TransferRequest:
    return ledger.TransferRequest(
        asset=ledger.POINTS,
        debit=f"system:{ledger.ISSUANCE}",
        credit=f"user:{winner}",
        amount=amount,
        kind="earned_challenge",
        reason=REASON,
        challenge_id=challenge_id,
        idempotency_key=backfill_key(challenge_id),
    )


def _resolved_off_chain(
    target: Database | Connection, last_id: int, batch_size: int
) -> list[sa.Row]:
    c = challenges.c
    with reading(target) as conn:
        return list(
            conn.execute(
                sa.select(c.id, c.challenger, c.challenged, c.result, c.amount)
                .where(
                    c.id > last_id,
                    c.result.in_(("challenger_won", "challenged_won")),
                    sa.not_(c.on_chain_resolved),
                )
                .order_by(c.id)
                .limit(batch_size)
            )
        )


def _already_awarded(conn: Connection, challenge_ids: list[int]) -> set[int]:
    keys = {backfill_key(challenge_id): challenge_id for challenge_id in challenge_ids}
    found = ledger.find_transfers(conn, keys=list(keys))
    return {keys[transfer.idempotency_key] for transfer in found if transfer.idempotency_key}
