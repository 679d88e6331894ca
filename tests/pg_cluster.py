"""A PostgreSQL cluster of a test's own, for what the shared server cannot take: a restart,
or a streaming replica of it (`streaming_replica`, made by pg_basebackup -R).

Started as scripts/with-postgres starts the suite's (the server binaries it installed; as the
postgres user when run as root; a port and socket directory of its own, in a temporary dir).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 60


def server_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise RuntimeError("no PostgreSQL server binaries: run the suite with `make test`")
    return Path(pg_ctl).parent


@dataclass
class Cluster:
    bindir: Path
    workdir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.workdir / "data"), "-w"]
        command += ["-t", str(START_TIMEOUT_S), "-l", str(self.workdir / "server.log")]
        _as_postgres([*command, "-o", options, *args])

    def restart(self) -> None:
        """Fast shutdown (every session ended, open transactions rolled back), then start."""
        self.pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "stop")


@contextmanager
def streaming_replica(primary: Cluster) -> Iterator[Cluster]:
    """A hot standby of `primary`, streaming from it (initdb's trust rules allow replication
    from 127.0.0.1), on a port of its own."""
    workdir = _workdir()
    replica = Cluster(primary.bindir, workdir, _free_port())
    try:
        # A fast checkpoint: a spread one waits tens of seconds for nothing here.
        source = ["-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"]
        target = ["-D", str(workdir / "data"), "-R", "-X", "stream"]
        fast = ["--checkpoint=fast", "--no-sync"]
        _as_postgres([str(primary.bindir / "pg_basebackup"), *source, *target, *fast])
        replica.pg_ctl("start")
        yield replica
    finally:
        _stop_and_remove(replica)


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    bindir = server_bindir()
    workdir = _workdir()
    cluster = Cluster(bindir, workdir, _free_port())
    try:
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(workdir / "data"), "-U", "postgres", "--auth=trust"]
        )
        cluster.pg_ctl("start")
        yield cluster
    finally:
        _stop_and_remove(cluster)


def _workdir() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="chaindb-pg-own."))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    return workdir


def _stop_and_remove(cluster: Cluster) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):  # never started, or down
        data = str(cluster.workdir / "data")
        _as_postgres([str(cluster.bindir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"])
    shutil.rmtree(cluster.workdir, ignore_errors=True)


def _as_postgres(command: list[str]) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(prefix + command, check=True, capture_output=True, timeout=START_TIMEOUT_S * 2)


def _free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each probe stays bound until all are chosen (probes made
    one after another may be given the same port, and a cluster's processes start later)."""
    with contextlib.ExitStack() as probes:
        sockets = [probes.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
