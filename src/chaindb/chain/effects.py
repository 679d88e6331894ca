"""Ledger effects tied to a transaction: applied once it is final, undone if its block leaves
the canonical chain, applied again (once) when it is mined again.

An effect's ledger writes are keyed by its id and the hash of the block that made it final, so
processing the same block twice writes nothing new, and being mined again in another block
writes again, exactly once. Undoing writes compensating transfers keyed 'undo:…'.

Kinds:
- 'ledger_transfers': payload {"transfers": [transfer arguments, ...]}
- 'challenge_resolution': payload {"challenge_id", "winning_side", "base_points"}: settle the
  challenge as the escrow contract pays it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import challenges, ledger
from chaindb.chain.schema import chain_tx_effects as effects
from chaindb.database import Database, dialect_insert, writing
from chaindb.errors import InvalidInput
from chaindb.types import parse_chain_id, parse_tx_hash, utc_now

KINDS = ("ledger_transfers", "challenge_resolution")


def register_effect(
    target: Database | Connection,
    *,
    chain_id: int | str,
    transaction_hash: str,
    effect: str,
    payload: dict[str, Any],
) -> None:
    """Tie `effect` to the transaction (once: registering it again changes nothing)."""
    if effect not in KINDS:
        raise InvalidInput("effect", effect, f"must be one of {', '.join(KINDS)}")
    with writing(target) as conn:
        conn.execute(
            dialect_insert(conn, effects)
            .values(
                chain_id=parse_chain_id(chain_id),
                transaction_hash=parse_tx_hash(transaction_hash),
                effect=effect,
                payload=payload,
            )
            .on_conflict_do_nothing()
        )


def apply_effects(conn: Connection, chain_id: str, tx_hash: str, block_hash: str) -> int:
    """Apply the transaction's waiting effects for the block that made it final."""
    applied = 0
    for effect in _effects(conn, chain_id, tx_hash, state="waiting"):
        prefix = f"fx:{effect['id']}:{block_hash}"
        _HANDLERS[effect["effect"]][0](conn, effect["payload"], prefix)
        _set_state(
            conn,
            effect,
            "applied",
            applied_block_hash=block_hash,
            applications=effect["applications"] + 1,
        )
        applied += 1
    return applied


def compensate_effects(conn: Connection, chain_id: str, tx_hash: str) -> int:
    """Undo the transaction's applied effects (its block is no longer canonical)."""
    undone = 0
    for effect in _effects(conn, chain_id, tx_hash, state="applied"):
        prefix = f"fx:{effect['id']}:{effect['applied_block_hash']}"
        _HANDLERS[effect["effect"]][1](conn, effect["payload"], prefix)
        _set_state(
            conn,
            effect,
            "waiting",
            applied_block_hash=None,
            compensations=effect["compensations"] + 1,
        )
        undone += 1
    return undone


def _apply_transfers(conn: Connection, payload: dict[str, Any], prefix: str) -> None:
    ledger.transfer_batch(
        conn,
        [
            ledger.TransferRequest(**transfer, idempotency_key=f"{prefix}:{n}")
            for n, transfer in enumerate(payload["transfers"])
        ],
    )


def _undo_transfers(conn: Connection, payload: dict[str, Any], prefix: str) -> None:
    keys = [f"{prefix}:{n}" for n in range(len(payload["transfers"]))]
    ledger.reverse(conn, keys=keys, reason="reorg: transaction left the chain")


def _apply_resolution(conn: Connection, payload: dict[str, Any], prefix: str) -> None:
    challenges.settle_resolution(
        conn,
        payload["challenge_id"],
        winning_side=payload["winning_side"],
        base_points=payload.get("base_points", challenges.DEFAULT_BASE_POINTS),
        admin_signature=payload.get("admin_signature"),
        resolution_tx_hash=payload.get("transaction_hash"),
        key_prefix=prefix,
    )


def _undo_resolution(conn: Connection, payload: dict[str, Any], prefix: str) -> None:
    challenges.unsettle(conn, payload["challenge_id"], key_prefix=prefix)


Handler = Callable[[Connection, dict[str, Any], str], None]
_HANDLERS: dict[str, tuple[Handler, Handler]] = {
    "ledger_transfers": (_apply_transfers, _undo_transfers),
    "challenge_resolution": (_apply_resolution, _undo_resolution),
}


def _effects(conn: Connection, chain_id: str, tx_hash: str, *, state: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(effects)
        .where(
            effects.c.chain_id == chain_id,
            effects.c.transaction_hash == tx_hash,
            effects.c.state == state,
        )
        .order_by(effects.c.id)
        .with_for_update()
    ).mappings()
    return [dict(row) for row in rows]


def _set_state(conn: Connection, effect: dict[str, Any], state: str, **values: Any) -> None:
    conn.execute(
        effects.update()
        .where(effects.c.id == effect["id"])
        .values(state=state, updated_at=utc_now(), **values)
    )
