"""Read replicas: reads that may be slightly stale go to a PostgreSQL streaming standby.

CHAINDB_READ_URLS names the standbys. `Database.replica_read()` (and `reading(db,
stale_ok=True)`, which leaderboards, statistics, histories, reports and exports use) takes a
connection from one of them, in turn; everything else, and every write, stays on the primary.

- Read-your-writes: after a write through a Database, its next replica read waits (up to
  CHAINDB_REPLICA_WAIT_S) for the replica to have replayed the primary's WAL up to a position
  read after that write, else it reads on the primary. The position is read lazily, at the
  first replica read after a write: the write path pays nothing.
- A replica that cannot be reached is skipped for REPLICA_RETRY_AFTER_S, one that lags by more
  than CHAINDB_REPLICA_LAG_MAX_S is skipped for that read: logged, never raised; the read runs
  on the primary instead.
- Each replica read asks the replica where it stands first (one round trip, before its
  snapshot is taken, so that the snapshot has what was asked for). A read already running on
  a replica that then fails (the replica stops, a recovery conflict cancels the query) raises
  as any read does: only the choice of a replica falls back silently.
- Lag is the standby's own view: 0 when it has replayed all it received, else the age of the
  last transaction it replayed (so a standby cut off from its primary reads as caught up:
  monitor the primary's pg_stat_replication too).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError

from chaindb.config import masked

REPLICA_CONNECT_TIMEOUT_S = 2  # a standby that does not answer in this is taken for down
REPLICA_RETRY_AFTER_S = 5.0
REPLAY_POLL_S = 0.01
log = logging.getLogger("chaindb.replicas")

# One round trip: how far the standby has replayed, and how far behind that is. Behind, with
# no transaction replayed since it started (no timestamp to measure by): lag unknown, taken as
# infinite.
_POSITION = sa.text(
    "SELECT pg_last_wal_replay_lsn() - '0/0' AS replayed, "
    "CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, "
    "'Infinity'::float8) END AS lag_s"
)
LAG_UNKNOWN = "behind what it received, with no transaction replayed since it started: lag unknown"
# On the primary: the end of the WAL inserted so far, at or past any commit that returned
# (pg_current_wal_lsn() is the written part only: with synchronous_commit off a commit
# record may not be written yet when the commit returns).
PRIMARY_POSITION = sa.text("SELECT pg_current_wal_insert_lsn() - '0/0'")


@dataclass
class ReplicaState:
    """One replica as health and diagnose show it."""

    url: str
    reachable: bool = False
    lag_s: float | None = None
    replayed_lsn: int | None = None
    error: str | None = None


class Replica:
    def __init__(self, url: URL, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self.down_until = 0.0

    @property
    def display_url(self) -> str:
        return masked(self.url)

    def checkout(self, *, target_lsn: int, deadline: float, lag_max_s: float) -> Connection | None:
        """A connection to this replica once it has replayed `target_lsn` (waiting until
        `deadline`), or None: down, not a standby, lagging, or still behind."""
        if time.monotonic() < self.down_until:
            return None
        try:
            conn = self.engine.connect()
        except DBAPIError as error:
            self._mark_down(error)
            return None
        try:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            if self._caught_up(conn, target_lsn=target_lsn, deadline=deadline, lag_max_s=lag_max_s):
                conn.commit()  # ends SQLAlchemy's autobegun block; the caller begins its own
                return conn
        except DBAPIError as error:
            conn.invalidate()
            self._mark_down(error)
        conn.close()
        return None

    def _caught_up(
        self, conn: Connection, *, target_lsn: int, deadline: float, lag_max_s: float
    ) -> bool:
        polls_max = int(max(deadline - time.monotonic(), 0) / REPLAY_POLL_S) + 1
        for _ in range(polls_max):
            replayed, lag_s = conn.execute(_POSITION).one()
            if replayed is None:
                log.warning("replica %s is not a standby: not used for reads", self.display_url)
                return False
            if lag_s > lag_max_s:
                log.info("replica %s lags %.1f s: read on the primary", self.display_url, lag_s)
                return False
            if replayed >= target_lsn:
                return True
            if time.monotonic() >= deadline:
                break
            time.sleep(REPLAY_POLL_S)
        log.info(
            "replica %s has not replayed the last write: read on the primary", self.display_url
        )
        return False

    def _mark_down(self, error: DBAPIError) -> None:
        self.down_until = time.monotonic() + REPLICA_RETRY_AFTER_S
        reason = _first_line(error)
        log.warning(
            "replica %s skipped for %g s: %s", self.display_url, REPLICA_RETRY_AFTER_S, reason
        )

    def state(self) -> ReplicaState:
        """Reached now, whatever the last read found."""
        state = ReplicaState(self.display_url)
        try:
            with self.engine.connect() as conn:
                replayed, lag_s = conn.execute(_POSITION).one()
        except DBAPIError as error:
            state.error = _first_line(error)
            return state
        state.reachable = True
        if replayed is None:
            state.error = "not a standby (pg_is_in_recovery() is false)"
            return state
        state.replayed_lsn = int(replayed)
        if math.isinf(lag_s):
            state.error = LAG_UNKNOWN
        else:
            state.lag_s = round(float(lag_s), 3)
        return state


class ReplicaSet:
    """The replicas of one Database, and what it last wrote."""

    def __init__(
        self,
        urls: list[URL],
        make_engine: Callable[[URL], Engine],
        *,
        lag_max_s: float,
        wait_s: float,
    ) -> None:
        self.replicas = [Replica(url, make_engine(url)) for url in urls]
        self.lag_max_s = lag_max_s
        self.wait_s = wait_s
        self._next = 0
        self._written = False  # a write committed since the primary's position was read
        self._target_lsn = 0
        self._lock = threading.Lock()

    def written(self) -> None:
        """A transaction that may have written ended on the primary."""
        self._written = True

    def checkout(self, primary_position: Callable[[], int]) -> Connection | None:
        """A replica's connection that has everything this Database wrote, or None."""
        target_lsn = self._target(primary_position)
        deadline = time.monotonic() + self.wait_s
        for replica in self._rotation():
            conn = replica.checkout(
                target_lsn=target_lsn, deadline=deadline, lag_max_s=self.lag_max_s
            )
            if conn is not None:
                return conn
        return None

    def _target(self, primary_position: Callable[[], int]) -> int:
        """The primary's WAL position after our last write. The flag is cleared before the
        position is read: a write that commits meanwhile is covered, or sets it again."""
        if self._written:
            self._written = False
            position = primary_position()
            with self._lock:
                self._target_lsn = max(self._target_lsn, position)
        return self._target_lsn

    def _rotation(self) -> Iterator[Replica]:
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self.replicas)
        for offset in range(len(self.replicas)):
            yield self.replicas[(start + offset) % len(self.replicas)]

    def states(self) -> list[ReplicaState]:
        return [replica.state() for replica in self.replicas]

    def dispose(self) -> None:
        for replica in self.replicas:
            replica.engine.dispose()


def _first_line(error: DBAPIError) -> str:
    text = str(error.orig or error).strip()
    return text.splitlines()[0] if text else type(error.orig).__name__
