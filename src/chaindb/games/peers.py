"""Peer connections (seed 002's V2): the mesh peers a node talks to. One open connection per
peer (a partial unique index); counters only grow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, NotFound
from chaindb.games.schema import peer_connections
from chaindb.text import identifier
from chaindb.types import BIGINT_MAX, UserId, utc_now
from chaindb.validation import Input, Row, parse_limit, validated

Transport = Literal["tcp", "udp", "bluetooth", "other"]
PeerId = identifier(64)
PeerAddress = identifier(255)
Counter = Annotated[int, Field(strict=True, ge=0, le=BIGINT_MAX)]
Latency = Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]
PEERS_LIMIT_MAX = 1_000


class PeerConnection(Row):
    id: int
    peer_id: str
    user_id: str | None
    address: str
    transport: str
    connected_at: datetime
    last_seen_at: datetime
    disconnected_at: datetime | None
    bytes_sent: int
    bytes_received: int
    latency_ms: int | None


class _Connected(Input):
    peer_id: PeerId
    address: PeerAddress
    transport: Transport
    user_id: UserId | None = None


class _Seen(Input):
    peer_id: PeerId
    bytes_sent: Counter = 0
    bytes_received: Counter = 0
    latency_ms: Latency | None = None


def record_peer_connected(
    target: Database | Connection,
    *,
    peer_id: str,
    address: str,
    transport: Transport,
    user_id: str | None = None,
) -> PeerConnection:
    """A peer connected; connecting again while open returns the open connection."""
    new = validated(
        _Connected, peer_id=peer_id, address=address, transport=transport, user_id=user_id
    )
    with writing(target) as conn:
        current = _open(conn, new.peer_id)
        if current is not None:
            return current
        row = conn.execute(
            peer_connections.insert().values(**new.model_dump()).returning(peer_connections)
        ).one()
    return PeerConnection.model_validate(row)


def record_peer_seen(
    target: Database | Connection,
    *,
    peer_id: str,
    bytes_sent: int = 0,
    bytes_received: int = 0,
    latency_ms: int | None = None,
) -> PeerConnection:
    """Traffic since the last report (added to the counters) and the latest latency."""
    seen = validated(
        _Seen, peer_id=peer_id, bytes_sent=bytes_sent, bytes_received=bytes_received,
        latency_ms=latency_ms,
    )  # fmt: skip
    with writing(target) as conn:
        current = _open(conn, seen.peer_id, lock=True)
        if current is None:
            raise NotFound(f"peer_id: {seen.peer_id!r} has no open connection")
        sent, received = (
            current.bytes_sent + seen.bytes_sent,
            current.bytes_received + seen.bytes_received,
        )
        if max(sent, received) > BIGINT_MAX:
            raise Conflict(f"peer {seen.peer_id!r}: a traffic counter would pass 2**63 - 1")
        values = {"bytes_sent": sent, "bytes_received": received, "last_seen_at": utc_now()}
        if seen.latency_ms is not None:
            values["latency_ms"] = seen.latency_ms
        return _update(conn, current.id, values)


def record_peer_disconnected(target: Database | Connection, *, peer_id: str) -> PeerConnection:
    with writing(target) as conn:
        current = _open(conn, peer_id, lock=True)
        if current is None:
            raise NotFound(f"peer_id: {peer_id!r} has no open connection")
        return _update(conn, current.id, {"disconnected_at": utc_now()})


def get_connected_peers(target: Database | Connection, *, limit: int = 100) -> list[PeerConnection]:
    """Open connections, most recently seen first."""
    limit = parse_limit(limit, PEERS_LIMIT_MAX)
    p = peer_connections.c
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(peer_connections)
            .where(p.disconnected_at.is_(None))
            .order_by(p.last_seen_at.desc(), p.id)
            .limit(limit)
        )
        return [PeerConnection.model_validate(row) for row in rows]


def _open(conn: Connection, peer_id: str, *, lock: bool = False) -> PeerConnection | None:
    p = peer_connections.c
    query = sa.select(peer_connections).where(p.peer_id == peer_id, p.disconnected_at.is_(None))
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else PeerConnection.model_validate(row)


def _update(conn: Connection, connection_id: int, values: dict[str, object]) -> PeerConnection:
    row = conn.execute(
        peer_connections.update()
        .where(peer_connections.c.id == connection_id)
        .values(**values)
        .returning(peer_connections)
    ).one()
    return PeerConnection.model_validate(row)
