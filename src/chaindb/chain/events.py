"""The escrow contract's logs, ingested into chain_events and projected into challenges.

Ingestion is idempotent: a log is one row per (block hash, log index), so reading the same
blocks twice adds nothing. It is reorg-safe: rows whose block left the canonical chain are
marked removed (never deleted), and the read cursor remembers its block's hash, so a reorg under
it makes the next pass re-read recent blocks. Projection waits for finality: a Staked log
becomes an escrow record (deposit + hold), a Claimed log marks the payout claimed; Resolved is
recorded only (the resolve transaction's effect settles the challenge). A node that is not the
chain this database follows is refused first (chain.pins); the first rows read from a chain pin
it, in the transaction that stores them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from web3.exceptions import MismatchedABI

from chaindb.chain.client import Chain
from chaindb.chain.escrow import deployed_escrow, escrow_contract
from chaindb.chain.pins import pin_chain, require_followed_chain
from chaindb.chain.schema import chain_cursors, chain_events
from chaindb.challenges import claim_payout, create_escrow_record
from chaindb.core import get_wallet_owner, log_security_event
from chaindb.database import Database, dialect_insert
from chaindb.errors import ChaindbError, InvalidInput
from chaindb.types import display_address, parse_address, utc_now

EVENTS = ("Staked", "Resolved", "Claimed")
SIDES = {1: "YES", 2: "NO"}
LOG_BLOCKS_PER_READ_MAX = 2_000
REORG_WINDOW_BLOCKS = 256


@dataclass
class IngestReport:
    from_block: int | None = None
    to_block: int | None = None
    ingested: int = 0
    removed: int = 0
    projected: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ingest_escrow_events(
    db: Database, chain: Chain, *, escrow_address: str | None = None
) -> IngestReport:
    """One pass: mark orphaned logs removed, read new blocks, project what became final."""
    given = None if escrow_address is None else evm_address(escrow_address, "escrow_address")
    require_followed_chain(db, chain, new_chain_ok=True)
    escrow = given or deployed_escrow(db, chain)
    stream = f"escrow:{escrow.lower()}"
    head = chain.head()
    report = IngestReport(removed=_mark_orphaned(db, chain, head))
    start = _start_block(db, chain, stream)
    end = min(head, start + LOG_BLOCKS_PER_READ_MAX - 1)
    if start <= end:
        logs = chain.call(
            lambda: chain.w3.eth.get_logs({"address": escrow, "fromBlock": start, "toBlock": end})
        )
        rows = [_row(chain, escrow, log) for log in logs]
        with db.transaction() as conn:
            pin_chain(conn, chain)
            if rows:
                inserted = conn.execute(
                    dialect_insert(conn, chain_events)
                    .on_conflict_do_nothing()
                    .returning(chain_events.c.id),
                    rows,
                )
                report.ingested = len(inserted.all())  # rows already stored return nothing
            _move_cursor(conn, chain, stream, end)
        report.from_block, report.to_block = start, end
    _project_final(db, chain, head, report)
    return report


def evm_address(value: object, field: str) -> str:
    """An EVM address as web3 takes it (EIP-55), or InvalidInput naming `field`."""
    canonical = parse_address(value, field)
    if not canonical.startswith("0x"):
        raise InvalidInput(field, value, "must be an EVM address (0x + 40 hex)")
    return display_address(canonical)


def _start_block(db: Database, chain: Chain, stream: str) -> int:
    with db.read() as conn:
        cursor = conn.execute(
            sa.select(chain_cursors).where(
                chain_cursors.c.chain_id == chain.chain_id, chain_cursors.c.stream == stream
            )
        ).first()
    if cursor is None:
        return 0
    if chain.block_hash(cursor.block_number) != cursor.block_hash:
        # The block under the cursor is gone: read the recent past again (rows already
        # stored are skipped; those of new blocks are added).
        return max(0, cursor.block_number - REORG_WINDOW_BLOCKS + 1)
    return cursor.block_number + 1


def _move_cursor(conn: sa.Connection, chain: Chain, stream: str, block_number: int) -> None:
    values = {
        "chain_id": chain.chain_id,
        "stream": stream,
        "block_number": block_number,
        "block_hash": chain.block_hash(block_number),
        "updated_at": utc_now(),
    }
    conn.execute(
        dialect_insert(conn, chain_cursors)
        .values(**values)
        .on_conflict_do_update(index_elements=["chain_id", "stream"], set_=values)
    )


def _row(chain: Chain, escrow: str, log: Any) -> dict[str, Any]:
    contract = escrow_contract(chain, escrow)
    for name in EVENTS:
        try:
            decoded = getattr(contract.events, name)().process_log(log)
        except MismatchedABI:
            continue
        return {
            "chain_id": chain.chain_id,
            "contract_address": escrow,
            "block_number": int(log["blockNumber"]),
            "block_hash": "0x" + bytes(log["blockHash"]).hex(),
            "transaction_hash": "0x" + bytes(log["transactionHash"]).hex(),
            "log_index": int(log["logIndex"]),
            "event": name,
            # Amounts as text: exact in any JSON reader.
            "args": {k: str(v) if isinstance(v, int) else v for k, v in decoded["args"].items()},
        }
    raise ChaindbError(f"log {log['logIndex']} of block {log['blockNumber']} is no escrow event")


def _mark_orphaned(db: Database, chain: Chain, head: int) -> int:
    e = chain_events.c
    with db.read() as conn:
        recent = conn.execute(
            sa.select(e.id, e.block_number, e.block_hash, e.status).where(
                e.chain_id == chain.chain_id,
                e.status != "removed",
                e.block_number >= head - REORG_WINDOW_BLOCKS,
            )
        ).all()
    canonical = {n: chain.block_hash(n) for n in {row.block_number for row in recent}}
    orphaned = [row for row in recent if canonical[row.block_number] != row.block_hash]
    for row in orphaned:
        with db.transaction() as conn:
            conn.execute(
                chain_events.update()
                .where(e.id == row.id)
                .values(
                    status="removed", note="block left the canonical chain", updated_at=utc_now()
                )
            )
            if row.status == "projected":
                log_security_event(
                    conn,
                    event_type="chain_finality_violation",
                    severity="error",
                    description=f"chain event {row.id} was projected when final, then its block "
                    f"{row.block_hash} left the chain: check the challenge by hand",
                    metadata={"chain_id": chain.chain_id, "event_id": row.id},
                )
    return len(orphaned)


def _project_final(db: Database, chain: Chain, head: int, report: IngestReport) -> None:
    e = chain_events.c
    last_final = head - chain.confirmations_required + 1
    with db.read() as conn:
        rows = (
            conn.execute(
                sa.select(chain_events)
                .where(
                    e.chain_id == chain.chain_id, e.status == "new", e.block_number <= last_final
                )
                .order_by(e.block_number, e.log_index)
            )
            .mappings()
            .all()
        )
    for row in rows:
        with db.transaction() as conn:
            try:
                note = _project(conn, chain, row)
                status = "projected"
            except ChaindbError as error:
                note, status = str(error), "skipped"
            conn.execute(
                chain_events.update()
                .where(e.id == row["id"])
                .values(status=status, note=note, updated_at=utc_now())
            )
        report.projected += status == "projected"
        report.skipped += status == "skipped"


def _project(conn: sa.Connection, chain: Chain, row: Any) -> str | None:
    args = row["args"]
    if row["event"] == "Resolved":
        return "recorded: the resolve transaction's effect settles the challenge"
    user = _owner(conn, chain, args["staker"])
    challenge_id = int(args["challengeId"])
    if row["event"] == "Staked":
        create_escrow_record(
            conn,
            challenge_id=challenge_id,
            user_id=user,
            side=SIDES[int(args["side"])],
            amount_escrowed=int(args["amount"]),
            escrow_tx_hash=row["transaction_hash"],
        )
    else:
        claim_payout(conn, challenge_id, user, row["transaction_hash"])
    return None


def _owner(conn: sa.Connection, chain: Chain, address: str) -> str:
    user = get_wallet_owner(conn, chain_id=chain.chain_id, wallet_address=address)
    if user is None:
        raise ChaindbError(f"no user has wallet {address} on {chain.chain_id}")
    return user
