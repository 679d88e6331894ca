"""Patroni with etcd and two PostgreSQL nodes on loopback, synchronous replication on, for the
failover test (tests/test_failover.py).

Debian's patroni and etcd-server packages (scripts/ensure-patroni installs them when missing);
etcd and both Patroni nodes run as the postgres user in a temporary directory, every port free
and on 127.0.0.1. `kill_leader` kills the leader's Patroni and PostgreSQL with SIGKILL, as a
machine that dies: its leader key expires after TTL_S and Patroni promotes the replica.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.pg_cluster import free_ports, server_bindir

TTL_S = 10  # the leader key's lease: a dead leader is replaced after about this long
LOOP_WAIT_S = 1
RETRY_TIMEOUT_S = 4  # loop_wait + 2 * retry_timeout must stay under the TTL
START_TIMEOUT_S = 120


@dataclass
class Node:
    name: str
    port: int
    api_port: int
    config: Path
    process: subprocess.Popen[bytes] | None = None

    def api(self, path: str) -> int:
        """The HTTP status of Patroni's REST API at `path` (0 when it does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}{path}", timeout=2):
                return 200
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    def postmaster_pid(self, workdir: Path) -> int | None:
        pidfile = workdir / self.name / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(pidfile.read_text().splitlines()[0])
        return None


@dataclass
class PatroniCluster:
    workdir: Path
    nodes: list[Node]
    etcd: subprocess.Popen[bytes] | None = None
    killed: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Both nodes; libpq takes the one that accepts writes."""
        hosts = "&".join(f"host=127.0.0.1:{node.port}" for node in self.nodes)
        return f"postgresql://postgres@/postgres?{hosts}&target_session_attrs=read-write"

    def leader(self) -> Node | None:
        alive = [node for node in self.nodes if node not in self.killed]
        return next((node for node in alive if node.api("/leader") == 200), None)

    def wait_for(self, done: object, what: str, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise RuntimeError(f"patroni: waited {timeout_s} s for {what}: {self.logs()}")
            time.sleep(0.2)

    def kill_leader(self) -> Node:
        """SIGKILL the leader's Patroni, then its PostgreSQL: nothing shuts down cleanly."""
        leader = self.leader()
        assert leader is not None and leader.process is not None
        postmaster = leader.postmaster_pid(self.workdir)
        _kill_tree(leader.process.pid)
        if postmaster is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster, signal.SIGKILL)
        self.killed.append(leader)
        return leader

    def logs(self) -> str:
        tails = []
        for path in sorted(self.workdir.glob("*.log")):
            tails.append(f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}")
        return "\n".join(tails)


@contextmanager
def patroni_cluster() -> Iterator[PatroniCluster]:
    workdir = Path(tempfile.mkdtemp(prefix="chaindb-patroni."))
    # six different ports: etcd's two, and each node's PostgreSQL and REST API
    client_port, peer_port, *node_ports = free_ports(6)
    nodes = [
        _node(workdir, name, client_port, node_ports[2 * n : 2 * n + 2])
        for n, name in enumerate(("node1", "node2"))
    ]
    cluster = PatroniCluster(workdir, nodes)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        for path in workdir.iterdir():
            shutil.chown(path, "postgres")
    try:
        cluster.etcd = _start(workdir, "etcd", _etcd_command(workdir, client_port, peer_port))
        nodes[0].process = _start(workdir, "node1", ["patroni", str(nodes[0].config)])
        cluster.wait_for(lambda: nodes[0].api("/leader") == 200, "node1 to lead")
        nodes[1].process = _start(workdir, "node2", ["patroni", str(nodes[1].config)])
        cluster.wait_for(lambda: nodes[1].api("/sync") == 200, "node2 as synchronous standby")
        yield cluster
    finally:
        for process in [node.process for node in nodes] + [cluster.etcd]:
            if process is not None and process.poll() is None:
                _kill_tree(process.pid)
        for node in nodes:  # a postmaster Patroni left behind
            pid = node.postmaster_pid(workdir)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)


def _node(workdir: Path, name: str, etcd_port: int, ports: list[int]) -> Node:
    node = Node(name, ports[0], ports[1], workdir / f"{name}.yml")
    node.config.write_text(json.dumps(_patroni_config(workdir, node, etcd_port), indent=2))
    return node


def _patroni_config(workdir: Path, node: Node, etcd_port: int) -> dict[str, object]:
    """YAML is a superset of JSON: the configuration is written as JSON."""
    trust = ["host replication replicator 127.0.0.1/32 trust", "host all all 127.0.0.1/32 trust"]
    users = {"username": "postgres", "password": "unused"}
    return {
        "scope": f"chaindb-{workdir.name}",
        "name": node.name,
        "log": {"level": "WARNING"},
        "restapi": {
            "listen": f"127.0.0.1:{node.api_port}",
            "connect_address": f"127.0.0.1:{node.api_port}",
        },
        "etcd3": {"hosts": [f"127.0.0.1:{etcd_port}"]},
        "bootstrap": {
            "dcs": {
                "ttl": TTL_S,
                "loop_wait": LOOP_WAIT_S,
                "retry_timeout": RETRY_TIMEOUT_S,
                "synchronous_mode": True,
                "postgresql": {"use_pg_rewind": False, "parameters": {"max_connections": 100}},
            },
            "initdb": [{"encoding": "UTF8"}],
            "pg_hba": trust,
        },
        "postgresql": {
            "listen": f"127.0.0.1:{node.port}",
            "connect_address": f"127.0.0.1:{node.port}",
            "data_dir": str(workdir / node.name),
            "bin_dir": str(server_bindir()),
            "pgpass": str(workdir / f"{node.name}.pgpass"),
            "authentication": {
                "superuser": users,
                "replication": {"username": "replicator", "password": "unused"},
            },
            "parameters": {"unix_socket_directories": str(workdir)},
            "pg_hba": ["local all all trust", *trust],
        },
    }


def _etcd_command(workdir: Path, client_port: int, peer_port: int) -> list[str]:
    client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    return [
        "etcd",
        "--name=etcd1",
        f"--data-dir={workdir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=etcd1={peer}",
    ]


def _start(workdir: Path, name: str, command: list[str]) -> subprocess.Popen[bytes]:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    log = (workdir / f"{name}.log").open("wb")
    return subprocess.Popen(
        [*prefix, *command], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _kill_tree(pid: int) -> None:
    """The process group started by _start (runuser and what it runs)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
