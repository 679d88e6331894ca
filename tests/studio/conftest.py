"""The studio's fixtures: the demo's data (a copy of the template the demo filled once per test
process) plus 10,000 transfers, on each backend, once per test module, and a real server on a
free port of 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

import chaindb
from chaindb import ledger
from tests.conftest import BACKENDS, _admin, in_ci

pytest.importorskip("starlette", reason="the studio extra is not installed")
uvicorn = pytest.importorskip("uvicorn")

from chaindb.studio import create_app  # noqa: E402

BULK_TRANSFERS = 10_000
SERVER_START_S_MAX = 20
# How long a test waits for a page, and how long a page may read (the studio's own limit is
# 5 s): a loaded 2-core CI machine can take seconds where a laptop takes milliseconds. The
# time limit's own test sets its limit.
PAGE_WAIT_S = 60.0


@pytest.fixture(scope="module", params=BACKENDS)
def studio_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database migrated to head with the demo's data and 10,000 more ledger transfers (so
    that a table has pages to go through). PostgreSQL's URL carries its password."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("studio") / "studio.sqlite3"
        shutil.copyfile(request.getfixturevalue("demo_sqlite_template"), path)
        url = f"sqlite:///{path}"
        yield _filled(url)
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    template = request.getfixturevalue("demo_pg_template")
    name = f"chaindb_studio_{uuid.uuid4().hex[:12]}"
    with _admin(admin_url) as admin:
        admin.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _filled(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    with _admin(admin_url) as admin:
        admin.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')


def _filled(url: str) -> str:
    with chaindb.connect(url) as db:
        ledger.transfer_batch(
            db,
            [
                {
                    "debit": "system:issuance",
                    "credit": "user:bob",
                    "amount": number + 1,
                    "kind": "earned_challenge",
                    "idempotency_key": f"studio-bulk:{number}",
                }
                for number in range(BULK_TRANSFERS)
            ],
        )
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(
    url: str, *, write: bool = False, token: str | None = None, time_limit_s: float | None = None
) -> Iterator[str]:
    """The studio on `url`, served by uvicorn in a thread, until the block ends."""
    db = chaindb.connect(url)
    port = free_port()
    app = create_app(db, write=write, token=token, time_limit_s=time_limit_s or PAGE_WAIT_S)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_S_MAX
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the studio did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_S_MAX)
        db.close()


def http(base: str, **options: object) -> httpx.Client:
    """A client of the studio at `base` that waits PAGE_WAIT_S for a page."""
    return httpx.Client(base_url=base, timeout=PAGE_WAIT_S, **options)  # type: ignore[arg-type]


def password_of(url: str) -> str | None:
    return make_url(url).password


def chromium_path() -> str | None:
    """The system's Chromium (Debian: chromium; `make test` installs it when missing)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return os.environ.get("CHAINDB_TEST_CHROMIUM")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    if executable is None or not Path(executable).exists():
        message = "no system Chromium: `make test` installs Debian's chromium package"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()
