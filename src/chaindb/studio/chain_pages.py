"""Chain: the transactions the application sent and each one's life (logged, broadcast, mined,
confirmations, final, or reorged and undone), the effects that wait on it, the escrow events
ingested, and the oracle's sync log and health. Read through chaindb.core, chaindb.chain and
chaindb.creators' faces (the chain bridge's tables through its metadata)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chaindb import chain, core, creators
from chaindb.errors import InvalidInput, NotFound
from chaindb.studio.app import render, studio_of

RECENT_SHOWN = 50
EVENTS_SHOWN = 50
SYNC_LOG_HOURS = 24 * 7
SYNC_LOG_SHOWN = 100
SYNC_STATS_HOURS = 24
REORG_EVENTS_READ = 1000  # the newest reorg events looked through for one transaction
_effects = chain.metadata.tables["chain_tx_effects"]
_events = chain.metadata.tables["chain_events"]
_sync_logs = creators.metadata.tables["oracle_sync_logs"]


@dataclass(frozen=True)
class Stage:
    name: str
    state: str  # done, todo, bad: the CSS class
    detail: str


def routes() -> list[Route]:
    return [Route("/chain", chain_index), Route("/chain/tx", transaction_page)]


def tx_url(tx: core.BlockchainTransaction) -> str:
    return f"/chain/tx?{urlencode({'chain_id': tx.chain_id, 'hash': tx.transaction_hash})}"


def chain_index(request: Request) -> Response:
    studio = studio_of(request)
    with studio.reading() as conn:
        recent = core.get_recent_blockchain_transactions(conn, limit=RECENT_SHOWN)
        events = conn.execute(
            sa.select(_events).order_by(_events.c.id.desc()).limit(EVENTS_SHOWN)
        ).all()
        context: dict[str, Any] = {
            "title": "Chain",
            "stats": core.get_blockchain_transaction_stats(conn),
            "transactions": [{"tx": tx, "href": tx_url(tx)} for tx in recent],
            "events": events,
            "sync_log": creators.get_recent_logs(conn, hours=SYNC_LOG_HOURS, limit=SYNC_LOG_SHOWN),
            "sync_hours": SYNC_LOG_HOURS,
        }
    context["sync_stats"] = creators.get_sync_stats(studio.db, SYNC_STATS_HOURS)
    return render(request, "chain.html", context)


def transaction_page(request: Request) -> Response:
    tx_hash, chain_id = request.query_params.get("hash"), request.query_params.get("chain_id")
    if not tx_hash:
        raise InvalidInput("hash", tx_hash, "give the transaction's hash")
    with studio_of(request).reading() as conn:
        tx = core.get_blockchain_transaction(conn, tx_hash, chain_id or None)
        if tx is None:
            raise NotFound(f"no logged transaction {tx_hash}")
        reorgs = reorg_events(conn, tx)
        context = {
            "title": f"Transaction {tx.transaction_hash[:18]}…",
            "tx": tx,
            "life": life(tx, reorgs),
            "reorgs": reorgs,
            "effects": _of_tx(conn, _effects, tx),
            "events": _of_tx(conn, _events, tx),
            "sync_log": conn.execute(
                sa.select(_sync_logs)
                .where(_sync_logs.c.transaction_hash == tx.transaction_hash)
                .order_by(_sync_logs.c.id)
            ).all(),
        }
    return render(request, "chain_tx.html", context)


def _of_tx(conn: Connection, table: sa.Table, tx: core.BlockchainTransaction) -> list[Any]:
    """A chain table's rows of this transaction (both tables index chain_id with the hash)."""
    return conn.execute(
        sa.select(table)
        .where(table.c.chain_id == tx.chain_id, table.c.transaction_hash == tx.transaction_hash)
        .order_by(table.c.id)
    ).all()


def reorg_events(conn: Connection, tx: core.BlockchainTransaction) -> list[core.SecurityEvent]:
    """The tracker logs each reorg of a transaction as a chain_reorg security event whose
    description starts with the transaction's hash."""
    found = core.get_security_events(conn, event_type="chain_reorg", limit=REORG_EVENTS_READ)
    return [event for event in found if event.description.startswith(tx.transaction_hash)]


def life(tx: core.BlockchainTransaction, reorgs: list[core.SecurityEvent]) -> list[Stage]:
    """Where the transaction is on its way: each stage done, not yet, or gone wrong."""
    mined = tx.status in ("success", "failed")
    broadcast = tx.raw_transaction is not None or tx.last_seen_at is not None or mined
    stages = [
        Stage("logged", "done", _when(tx.created_at)),
        Stage("broadcast", "done" if broadcast else "todo", _when(tx.last_seen_at)),
        _mined(tx),
        Stage(
            "confirmations",
            "done" if tx.confirmations else "todo",
            "" if tx.confirmations is None else str(tx.confirmations),
        ),
        Stage("final", "done" if tx.is_final else "todo", _when(tx.finalized_at)),
    ]
    for event in reorgs:
        stages.append(Stage("reorged", "bad", f"{_when(event.created_at)}: {event.description}"))
    return stages


def _mined(tx: core.BlockchainTransaction) -> Stage:
    if tx.status == "success":
        return Stage("mined", "done", f"block {tx.block_number} {tx.block_hash or ''}")
    if tx.status == "failed":
        return Stage("mined", "bad", f"reverted in block {tx.block_number}: {tx.error_message}")
    if tx.status == "replaced":
        return Stage("mined", "bad", f"replaced by {tx.replaced_by_hash}")
    if tx.status == "dropped":
        return Stage("mined", "bad", "dropped: the node no longer knows it")
    return Stage("mined", "todo", "pending")


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(sep=" ", timespec="seconds")
