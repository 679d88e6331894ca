"""The migration lock, held by real processes: a waiter says who holds it (once), honours
CHAINDB_MIGRATION_LOCK_TIMEOUT_S, goes on when it is released, and is not blocked by a holder
that died."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

import chaindb
from chaindb import MigrationLockTimeout, migrations
from chaindb.migrations.lock import migration_lock
from tests.conftest import CORE

WAITING = "waiting for the migration lock held by"
HOLD_SCRIPT = """
import sys, time
import chaindb
from chaindb.migrations.lock import migration_lock
with migration_lock(chaindb.connect(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def start_migrate(db_url: str, timeout_s: float) -> subprocess.Popen[str]:
    env = {**os.environ, "CHAINDB_URL": db_url, "CHAINDB_MIGRATION_LOCK_TIMEOUT_S": str(timeout_s)}
    return subprocess.Popen(
        [sys.executable, "-m", "chaindb", "migrate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def applied(db) -> list[str]:
    return [s.revision for m in migrations.status(db).modules for s in m.applied]


def test_a_waiter_names_the_holder_once_and_gives_up_at_the_timeout(db, db_url):
    with migration_lock(db):
        child = start_migrate(db_url, timeout_s=1)
        _out, err = child.communicate(timeout=120)
    assert child.returncode == 1
    lines = err.splitlines()
    assert [line for line in lines if WAITING in line] == [lines[1]], err
    assert f"pid={os.getpid()}" in lines[1]
    error = lines[-1]
    assert error.startswith("error: the migration lock is held by ")
    assert f"pid={os.getpid()}" in error
    assert "CHAINDB_MIGRATION_LOCK_TIMEOUT_S=1)" in error
    waited_s = float(re.search(r"gave up after waiting ([\d.]+) s", error)[1])
    assert 1 <= waited_s < 10, "it honours the timeout (SQLite used to wait 31 s regardless)"
    assert "Traceback" not in err
    assert applied(db) == []


def test_a_waiter_goes_on_when_the_lock_is_released(db, db_url):
    with migration_lock(db):
        child = start_migrate(db_url, timeout_s=120)
        seen = [child.stderr.readline() for _ in range(2)]  # "database: ...", then waiting
        assert WAITING in seen[1], seen
    _out, rest = child.communicate(timeout=120)
    assert child.returncode == 0, rest
    assert WAITING not in rest, "said once, not once per poll"
    assert migrations.check(db).ok


def test_the_python_api_raises_naming_the_holder(db_url, monkeypatch, caplog):
    """A thread of this process holds the lock; another process's API call would see the
    same: MigrationLockTimeout, after one warning on the chaindb.migrations logger."""
    monkeypatch.setenv("CHAINDB_MIGRATION_LOCK_TIMEOUT_S", "0.5")
    holder_db, waiter_db = chaindb.connect(db_url), chaindb.connect(db_url)
    migrations.migrate(holder_db, modules=["core"])
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with migration_lock(holder_db):
            held.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(timeout=60)
        refused = pytest.raises(MigrationLockTimeout, match=f"held by .*pid={os.getpid()}")
        with caplog.at_level(logging.WARNING, logger="chaindb.migrations"), refused:
            migrations.rollback(waiter_db, "base")
        assert len([r for r in caplog.records if WAITING in r.getMessage()]) == 1
    finally:
        release.set()
        thread.join()
    assert applied(waiter_db) == CORE, "the refused rollback changed nothing"
    holder_db.close()
    waiter_db.close()


def test_a_holder_that_died_does_not_block_the_next_migrate(db, db_url, monkeypatch):
    """Killed with the lock held (SIGKILL: no finally runs). PostgreSQL drops its advisory
    lock with the session; on SQLite the row names a process that is gone, so it is taken."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, db_url], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    monkeypatch.setenv("CHAINDB_MIGRATION_LOCK_TIMEOUT_S", "5")
    fresh = chaindb.connect(db_url)
    assert [s.revision for s in migrations.migrate(fresh, modules=["core"]).steps] == CORE
    fresh.close()


def test_a_lock_row_with_our_own_pid_from_an_earlier_process_is_taken(tmp_path, monkeypatch):
    """SQLite only (PostgreSQL's lock dies with its session): a restarted container gives the
    new process the old one's pid, so 'is that pid running?' says yes; the row is older than
    this process, so it is the old one's."""
    import os
    import socket
    from datetime import timedelta

    from chaindb.migrations.bookkeeping import lock_table
    from chaindb.types import utc_now

    db = chaindb.connect(f"sqlite:///{tmp_path / 'restarted.sqlite3'}")
    with db.transaction() as conn:
        lock_table.create(conn)
        conn.execute(
            lock_table.insert().values(
                id=1,
                holder="chaindb before the restart",
                host=socket.gethostname(),
                pid=os.getpid(),
                token="0" * 32,
                acquired_at=utc_now() - timedelta(hours=1),
            )
        )
    monkeypatch.setenv("CHAINDB_MIGRATION_LOCK_TIMEOUT_S", "2")
    fresh = chaindb.connect(f"sqlite:///{tmp_path / 'restarted.sqlite3'}")
    assert [s.revision for s in migrations.migrate(fresh, modules=["core"]).steps] == CORE
    fresh.close()
    db.close()
