"""Which chains a database follows: per CAIP-2 chain id, the hash of that chain's genesis block.

A chain id alone does not tell chains apart: every eth-tester EVM is eip155:131277322940537,
and devnets and forks reuse ids. Their genesis blocks differ. A node that is not the chain a
database recorded its transactions on makes every recorded block look reorged, and the tracker
would undo settled results. So:

- The pin (chain id, genesis hash) is recorded in the same database transaction as the first
  transaction sent, or the first event ingested, on that chain (`pin_chain`).
- Every path that talks to a node for a database (sending, tracking, event ingestion, watch)
  first calls `require_followed_chain`: a node whose genesis differs from the pin of its chain
  id is refused, and so is a node of a chain id the database has nothing on when it follows
  others (tracking and watch; sending and ingestion may start a new chain). The error names
  both chains; nothing has been written or broadcast.
- A database that recorded transactions before pins existed (or through core directly) is
  pinned the first time a node holds one of its recorded final blocks; a node that holds none
  of them is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.chain.client import Chain
from chaindb.chain.schema import chain_events, chain_pins
from chaindb.core import find_blockchain_transactions, recorded_final_blocks
from chaindb.database import Database, dialect_insert
from chaindb.errors import ChaindbError

EVIDENCE_BLOCKS_MAX = 5  # recorded final blocks looked up on an unpinned chain's node


class ChainMismatch(ChaindbError):
    """The node is not a chain this database follows (another genesis, or another chain id)."""


@dataclass(frozen=True)
class ChainPin:
    chain_id: str
    genesis_hash: str
    pinned_via: str  # the node it was pinned through, its URL masked
    pinned_at: datetime

    def __str__(self) -> str:
        return (
            f"{self.chain_id} with genesis {self.genesis_hash} (pinned via {self.pinned_via} "
            f"on {self.pinned_at:%Y-%m-%d %H:%M} UTC)"
        )

    def as_dict(self) -> dict[str, str]:
        return {
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "pinned_via": self.pinned_via,
            "pinned_at": self.pinned_at.isoformat(),
        }


def list_chain_pins(db: Database) -> list[ChainPin]:
    """Every chain this database follows, by chain id."""
    with db.read() as conn:
        rows = conn.execute(sa.select(chain_pins).order_by(chain_pins.c.chain_id)).mappings()
        return [ChainPin(**row) for row in rows]


def require_followed_chain(db: Database, chain: Chain, *, new_chain_ok: bool) -> ChainPin | None:
    """Refuse (ChainMismatch) a node that is not a chain this database follows; return the
    chain's pin. None: the database has nothing on this chain yet, which `new_chain_ok` allows
    (a first transaction or event will pin it), as does a database that follows no chain yet."""
    pins = list_chain_pins(db)
    pin = next((p for p in pins if p.chain_id == chain.chain_id), None)
    if pin is not None:
        if pin.genesis_hash != chain.genesis_hash:
            raise ChainMismatch(_refusal(chain, f"this database follows {pin}"))
        return pin
    if _has_history(db, chain.chain_id):
        return _adopt(db, chain)
    if pins and not new_chain_ok:
        followed = ", ".join(str(p) for p in pins)
        raise ChainMismatch(
            _refusal(chain, f"this database has nothing on {chain.chain_id}: it follows {followed}")
        )
    return None


def pin_chain(conn: Connection, chain: Chain) -> ChainPin:
    """Pin the chain, in the caller's transaction (the one that records its first transaction
    or event), unless it is pinned; refuse a node whose genesis differs from the pin."""
    conn.execute(
        dialect_insert(conn, chain_pins)
        .values(chain_id=chain.chain_id, genesis_hash=chain.genesis_hash, pinned_via=chain.node)
        .on_conflict_do_nothing()
    )
    row = conn.execute(sa.select(chain_pins).where(chain_pins.c.chain_id == chain.chain_id))
    pin = ChainPin(**row.mappings().one())
    if pin.genesis_hash != chain.genesis_hash:  # another process pinned another genesis first
        raise ChainMismatch(_refusal(chain, f"this database follows {pin}"))
    return pin


def _refusal(chain: Chain, followed: str) -> str:
    return (
        f"{chain.node} is not a chain this database follows: it serves {chain.chain_id} with "
        f"genesis {chain.genesis_hash}, but {followed}; nothing was changed (set "
        f"CHAINDB_RPC_URL or --rpc-url to a node of the chain the database follows)"
    )


def _has_history(db: Database, chain_id: str) -> bool:
    if find_blockchain_transactions(db, chain_id=chain_id, limit=1):
        return True
    first_event = sa.select(chain_events.c.id).where(chain_events.c.chain_id == chain_id).limit(1)
    with db.read() as conn:
        return conn.execute(first_event).first() is not None


def _adopt(db: Database, chain: Chain) -> ChainPin:
    """Pin a chain recorded before pins existed, if the node holds one of its final blocks."""
    recorded = _final_blocks(db, chain.chain_id)
    if recorded and not any(chain.block_hash(number) == block for number, block in recorded):
        shown = ", ".join(f"{number} {block}" for number, block in recorded)
        raise ChainMismatch(
            _refusal(
                chain,
                f"none of the final blocks this database recorded on {chain.chain_id} is on "
                f"it (block {shown})",
            )
        )
    with db.transaction() as conn:
        return pin_chain(conn, chain)


def _final_blocks(db: Database, chain_id: str) -> list[tuple[int, str]]:
    """Up to EVIDENCE_BLOCKS_MAX final blocks this database recorded on the chain, oldest first
    (a block hash commits to every block before it, down to genesis)."""
    mined = recorded_final_blocks(db, chain_id=chain_id, limit=EVIDENCE_BLOCKS_MAX)
    with db.read() as conn:
        projected = conn.execute(
            sa.select(chain_events.c.block_number, chain_events.c.block_hash)
            .where(chain_events.c.chain_id == chain_id, chain_events.c.status == "projected")
            .distinct()
            .order_by(chain_events.c.block_number)
            .limit(EVIDENCE_BLOCKS_MAX)
        ).all()
    blocks = sorted({(int(n), h) for n, h in [*mined, *projected]})
    return blocks[:EVIDENCE_BLOCKS_MAX]
