"""A bound on how long one page may read (Datasette's sql_time_limit_ms): a sort by a column
no index serves reads the whole table, which on 10M rows takes seconds. Past the bound the page
is refused with what to do instead, and the read is cancelled in the database, not abandoned.

PostgreSQL: `SET LOCAL statement_timeout` (the transaction's alone: safe behind a pooler).
SQLite: a progress handler that interrupts the statement once the deadline has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.errors import ChaindbError

TIME_LIMIT_S_DEFAULT = 5.0
_QUERY_CANCELED_SQLSTATE = "57014"
_SQLITE_INSTRUCTIONS_PER_CHECK = 10_000


class PageTooSlow(ChaindbError):
    """A page's read ran past the studio's time limit and was cancelled."""

    def __init__(self, time_limit_s: float) -> None:
        super().__init__(
            f"this page took longer than the studio's limit of {time_limit_s:g} s and was "
            "stopped: sort by an indexed column (shown with 'indexed') or filter first "
            "(chaindb studio --time-limit-s raises the limit)"
        )


@contextmanager
def limited(conn: Connection, *, time_limit_s: float) -> Iterator[Connection]:
    """`conn` with every statement until the end of the block bounded by `time_limit_s`."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, round(time_limit_s * 1000))}")
        try:
            yield conn
        except sa.exc.OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == _QUERY_CANCELED_SQLSTATE:
                raise PageTooSlow(time_limit_s) from None
            raise
        return
    raw = conn.connection.dbapi_connection
    deadline = time.monotonic() + time_limit_s
    raw.set_progress_handler(_past(deadline), _SQLITE_INSTRUCTIONS_PER_CHECK)
    try:
        yield conn
    except sa.exc.OperationalError as error:
        if "interrupted" in str(error.orig) and time.monotonic() >= deadline:
            raise PageTooSlow(time_limit_s) from None
        raise
    finally:
        raw.set_progress_handler(None, 0)


def _past(deadline: float) -> Callable[[], int]:
    def check() -> int:
        return int(time.monotonic() >= deadline)  # non-zero interrupts the statement

    return check
