"""Is a pooled PostgreSQL connection still alive? Found out without a round trip when we can.

SQLAlchemy's pre-ping sends a statement before every checkout: a round trip, and on the
server a transaction of its own, for every transaction the application runs (measured: two
server transactions per ledger transfer). chaindb's policy, as mature pools keep it (HikariCP
skips its test for a connection used within the last 500 ms):

- at every checkout, for free: a connection the server has closed (a restart,
  pg_terminate_backend, an idle timeout) has something to read on its socket, its goodbye and
  its end; a non-blocking look at the socket finds that (then a ping confirms it), and the
  pool takes another connection;
- a connection idle longer than POOL_PING_IDLE_S is also pinged (an empty query: the
  cheapest round trip, though the server counts it as a transaction of its own), for what a
  socket cannot tell (a peer that vanished without a word);
- a disconnect that still slips through, found while a transaction runs and before its
  commit, is raised as ConnectionLost: nothing was committed, and a caller may run the whole
  transaction again on a fresh connection (the ledger does, once).

A connection given back is rolled back only if a transaction is open on it (SQLAlchemy's
rollback-on-return calls into the driver for every one). On both backends, a connection idle in
the pool longer than the idle timeout is replaced when next taken out.
"""

from __future__ import annotations

import select
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

POOL_PING_IDLE_S = 1.0
_IDLE_SINCE = "chaindb_idle_since"
_IDLE = 0  # libpq's PQTRANS_IDLE: no transaction open on the connection


def keep_alive(engine: Engine, idle_timeout_s: float = 0.0) -> None:
    """Install the policy on a PostgreSQL engine (created with pool_pre_ping off and
    pool_reset_on_return=None), with close_idle's `idle_timeout_s` (0: none) in the same
    listener: one call per checkout, not two."""
    _note_check_ins(engine)

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_s = _idle_s(record)
        if 0 < idle_timeout_s < idle_s:
            record.info.pop(_IDLE_SINCE, None)
            raise DisconnectionError(f"idle for more than {idle_timeout_s:g} s")  # pool retries
        stale = idle_s > POOL_PING_IDLE_S and not _ping(dbapi_connection)
        if stale or _closed_by_the_server(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")  # pool retries

    sa.event.listen(engine, "checkout", checked_out)
    sa.event.listen(engine, "reset", _roll_back_if_open)


def close_idle(engine: Engine, idle_timeout_s: float) -> None:
    """The seed's idle_timeout (SQLite; keep_alive has it on PostgreSQL): a pooled connection
    idle for longer is closed when next taken out, and the pool opens a fresh one in its
    place. SQLAlchemy's pools have no reaper thread: until then it stays open."""
    _note_check_ins(engine)

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _idle_s(record) > idle_timeout_s:
            record.info.pop(_IDLE_SINCE, None)
            raise DisconnectionError(f"idle for more than {idle_timeout_s:g} s")  # pool retries

    sa.event.listen(engine, "checkout", checked_out, insert=True)


def _note_check_ins(engine: Engine) -> None:
    if not sa.event.contains(engine, "checkin", _checked_in):
        sa.event.listen(engine, "checkin", _checked_in)


def _idle_s(record: Any) -> float:
    now = time.monotonic()
    return now - record.info.get(_IDLE_SINCE, now)


def _roll_back_if_open(dbapi_connection: Any, _record: Any, state: Any) -> None:
    """The pool's reset of a connection given back, as SQLAlchemy's rollback-on-return does
    it, less the call into the driver for a connection with no transaction open: the ledger's
    one-statement transfers, and every Connection that has rolled back or committed already.
    (That call cost a plain transfer more CPU than anything else of the pool's.)"""
    if state.transaction_was_reset or not state.asyncio_safe:
        return
    if dbapi_connection.pgconn.transaction_status != _IDLE:
        dbapi_connection.rollback()  # in a transaction, failed, or broken: psycopg decides


def is_disconnect(engine: Engine, error: BaseException, dbapi_connection: Any) -> bool:
    """Whether `error` means the connection is gone (as the dialect judges it)."""
    orig = getattr(error, "orig", error)
    return bool(engine.dialect.is_disconnect(orig, dbapi_connection, None))


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _closed_by_the_server(dbapi_connection: Any) -> bool:
    """A pooled connection has nothing to read unless the server spoke: most likely its
    goodbye (a FATAL message, then the end of the stream). Only then is it pinged to be sure
    (a notice or a NOTIFY would be harmless)."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
    return bool(readable) and not _ping(dbapi_connection)


def _ping(dbapi_connection: Any) -> bool:
    """An empty query: no parse, no snapshot, no lock (the server still counts it in
    xact_commit: a ping is a server transaction, hence only for an idle connection)."""
    from psycopg import pq

    try:
        result = dbapi_connection.pgconn.exec_(b"")
    except Exception:
        return False
    return bool(result.status == pq.ExecStatus.EMPTY_QUERY)
