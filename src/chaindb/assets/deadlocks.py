"""A write in a transaction of its own, run again when PostgreSQL ends it as a deadlock's
victim (SQLSTATE 40P01): a claim's rare deadlock (claim_leaves.py), and the completion a
worker then records on its own. Both are safe to run again: the victim's transaction wrote
nothing, and a completion recorded twice completes each job once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from chaindb.database import Database, writing

T = TypeVar("T")

ATTEMPTS_MAX = 4


def is_deadlock(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) == "40P01"


def written(target: Database | Connection, writes: Callable[[Connection], T]) -> T:
    """`writes` in the target's transaction: given a Database, one of its own, run again
    after a deadlock; given a Connection, the caller's (its deadlock is the caller's)."""

    def transaction() -> T:
        with writing(target) as conn:
            return writes(conn)

    return again_after_deadlock(transaction) if isinstance(target, Database) else transaction()


def again_after_deadlock(action: Callable[[], T]) -> T:
    """`action` (a whole transaction), run up to ATTEMPTS_MAX times while it is a deadlock's
    victim; any other error, or the last deadlock, is raised."""
    try:
        return action()  # the common case, without tenacity's bookkeeping
    except DBAPIError as error:
        if not is_deadlock(error):
            raise
    return _RETRYING(action)


_RETRYING = Retrying(  # shared: tenacity keeps each thread's state apart (no nested use here)
    retry=retry_if_exception(is_deadlock),
    stop=stop_after_attempt(ATTEMPTS_MAX - 1),
    wait=wait_random_exponential(multiplier=0.01, max=0.2),
    reraise=True,
)
