"""A real PgBouncer in transaction mode in front of the suite's PostgreSQL, for
`pytest --through-pgbouncer` (see conftest.py): every server connection is handed out per
transaction, as in production behind a pooler.

Debian's pgbouncer package is installed when missing by scripts/ensure-pgbouncer (as
scripts/with-postgres installs PostgreSQL). It runs as the postgres user (it refuses root),
with an ini file, a port and a log of its own in a temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url

START_TIMEOUT_S = 30
POOL_SIZE = 40  # server connections per database and user: 8 writers and their pools


def pgbouncer_binary() -> str:
    """Installed by scripts/ensure-pgbouncer (`make test`), once, before pytest's workers."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None:
        raise RuntimeError("no pgbouncer: run scripts/ensure-pgbouncer (make test does)")
    return found


@contextmanager
def pgbouncer_in_front_of(server_url: str) -> Iterator[URL]:
    """PgBouncer (pool_mode=transaction) in front of the server; yields `server_url` with
    PgBouncer's host and port (any database name is passed through to the server)."""
    server = make_url(server_url)
    workdir = Path(tempfile.mkdtemp(prefix="chaindb-pgbouncer."))
    port = _free_port()
    _write_config(workdir, server, port)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        for path in workdir.iterdir():
            shutil.chown(path, "postgres")
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [*prefix, pgbouncer_binary(), str(workdir / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, workdir)
        yield server.set(host="127.0.0.1", port=port)
    finally:
        _stop(process, workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def _write_config(workdir: Path, server: URL, port: int) -> None:
    (workdir / "userlist.txt").write_text(f'"{server.username}" "{server.password}"\n')
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.host} port={server.port}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = scram-sha-256\n"
        f"auth_file = {workdir / 'userlist.txt'}\n"
        # Other roles (the assets service role) by their SCRAM secret on the server: PgBouncer
        # then logs in as them with the client's own proof.
        f"auth_user = {server.username}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 2000\n"
        f"default_pool_size = {POOL_SIZE}\n"
        f"logfile = {workdir / 'pgbouncer.log'}\n"
        f"pidfile = {workdir / 'pgbouncer.pid'}\n"
        # psycopg sends none of these; listed so that other clients of the suite pass.
        "ignore_startup_parameters = extra_float_digits\n"
    )


def _wait_for_port(port: int, process: subprocess.Popen[bytes], workdir: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    log = workdir / "pgbouncer.log"
    raise RuntimeError(f"pgbouncer did not start: {log.read_text() if log.exists() else ''}")


def _stop(process: subprocess.Popen[bytes], workdir: Path) -> None:
    """SIGINT: PgBouncer's immediate shutdown. Sent to PgBouncer itself (by its pidfile), not
    only to runuser."""
    pidfile = workdir / "pgbouncer.pid"
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pidfile.read_text().strip()), signal.SIGINT)
    try:
        process.wait(timeout=START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
