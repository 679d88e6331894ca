"""`run_cli`'s processes, forked from a process that has imported chaindb once.

Every `chaindb` command a test runs is a real process of its own: its arguments, environment,
working directory, stdin, stdout, stderr and exit code are a subprocess's. What a child
process would spend first — starting Python and importing chaindb, its CLI and their
libraries, about a second on 2 cores — is spent once per test process: a server process
imports `chaindb.cli` and forks a child per command, which sets the environment and file
descriptors it was given and runs `chaindb.cli.main()` as `python -m chaindb` would. The CLI
tests are most of the suite's commands, and that second was most of their time.

CHAINDB_TEST_FORK_CLI=0 runs each command with `python -m chaindb` instead.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

FORK_ENV = "CHAINDB_TEST_FORK_CLI"

_SERVER = r"""
import importlib, io, json, os, sys, traceback

import chaindb.cli


def run(request):
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    # What Python reads once at its start: PYTHONPATH's folders come after the script's own.
    # (A test names a schema module in its own folder so.)
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[1:1] = [p for p in extra if p not in sys.path]
    importlib.invalidate_caches()
    for fd, path, flags in ((0, request["stdin"], os.O_RDONLY), (1, request["stdout"], os.O_WRONLY),
                            (2, request["stderr"], os.O_WRONLY)):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, closefd=False), encoding="utf-8")
    sys.argv = [request["argv0"], *request["args"]]
    code = 0
    try:
        chaindb.cli.main()
    except SystemExit as done:
        if done.code is None:
            code = 0
        elif isinstance(done.code, int):
            code = done.code
        else:
            print(done.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


replies = os.fdopen(int(sys.argv[1]), "w")
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        run(request)
    replies.write(json.dumps({"pid": pid}) + "\n")
    replies.flush()
    _, status = os.waitpid(pid, 0)
    replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
    replies.flush()
"""


class _Server:
    """One per test process, started at its first command."""

    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(write_end)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,  # never a terminal, as run_cli's captured output
            text=True,
            pass_fds=(write_end,),
        )
        os.close(write_end)
        self.replies = read_end
        self.pending = b""

    def run(
        self, args: list[str], env: dict[str, str], stdin: str | None, timeout_s: float
    ) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory(prefix="chaindb-cli-") as directory:
            files = {name: Path(directory) / name for name in ("stdin", "stdout", "stderr")}
            files["stdin"].write_text(stdin or "")
            files["stdout"].touch()
            files["stderr"].touch()
            request = {
                "args": args,
                "env": env,
                "cwd": os.getcwd(),
                "argv0": str(Path(__file__).parents[1] / "src" / "chaindb" / "__main__.py"),
                **{name: str(path) for name, path in files.items()},
            }
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            pid = self._reply(timeout_s)["pid"]
            try:
                returncode = self._reply(timeout_s)["returncode"]
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self._reply(timeout_s)
                raise
            return subprocess.CompletedProcess(
                ["chaindb", *args],
                returncode,
                files["stdout"].read_text(),
                files["stderr"].read_text(),
            )

    def _reply(self, timeout_s: float) -> dict[str, Any]:
        """The server's next line (read unbuffered: both replies may arrive at once)."""
        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.replies], [], [], timeout_s)
            if not ready:
                raise subprocess.TimeoutExpired("chaindb", timeout_s)
            chunk = os.read(self.replies, 4096)
            if not chunk:
                raise RuntimeError("the test's chaindb command server died")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)


_server: _Server | None = None


def forking() -> bool:
    return os.environ.get(FORK_ENV, "1") != "0" and hasattr(os, "fork")


def run_forked(
    args: list[str], env: dict[str, str], stdin: str | None, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = _Server()
    return _server.run(args, env, stdin, timeout_s)
