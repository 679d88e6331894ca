"""Fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from CHAINDB_TEST_PG_URL (set by scripts/with-postgres, which `make test` uses).
Each test gets a database of its own. Under CI (CI=true) a missing server fails the run.

`pytest --through-pgbouncer`: the tests connect through a real PgBouncer in transaction mode
(tests/pgbouncer.py) with CHAINDB_POOLER=transaction, PostgreSQL only (the SQLite half is
skipped); databases are still created and cloned on the server directly.

CHAINDB_TEST_PARTITIONED=1 partitions the append-only tables of the migrated PostgreSQL
template (ledger_transfers, plays and the logs: ops/partitions.py), so that core_db's tests run
on them.

CHAINDB_TEST_SQLITE_KEY=<key> runs the suite on encrypted SQLite (SQLCipher): every database the
tests and the commands they start open gets that key, and the PostgreSQL tests are left out
(`make test` runs the SQLite tests a second time so).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import chaindb
from chaindb import migrations
from chaindb.config import Settings
from chaindb.migrations.modules import RevisionGraph
from chaindb.sqlite_engine import open_file
from tests.cli_fork import forking, run_forked

PG_URL_ENV = "CHAINDB_TEST_PG_URL"
CORE = RevisionGraph.load().module_revisions("core")  # core's revisions, oldest first
CORE_HEAD = CORE[-1]
BACKENDS = ["sqlite", "postgresql"]
_CHAINDB_ENV = (
    "CHAINDB_URL",
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "CHAINDB_MODULES",
    "CHAINDB_MODULE_PATHS",
    "CHAINDB_POOLER",
    "CHAINDB_READ_URLS",
)
THROUGH_PGBOUNCER = "--through-pgbouncer"
PARTITIONED_ENV = "CHAINDB_TEST_PARTITIONED"  # set: PostgreSQL's template is partitioned


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        THROUGH_PGBOUNCER,
        action="store_true",
        help="connect to PostgreSQL through a PgBouncer in transaction mode (SQLite skipped)",
    )


def through_pgbouncer(config: pytest.Config) -> bool:
    return bool(config.getoption(THROUGH_PGBOUNCER))


TEST_SQLITE_KEY = os.environ.get("CHAINDB_TEST_SQLITE_KEY", "")
if TEST_SQLITE_KEY:
    os.environ["CHAINDB_SQLITE_KEY"] = TEST_SQLITE_KEY  # this process and the commands it runs
_PG_FIXTURES = {"pg_url", "pg_admin_url", "pg_template"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Second passes run only what they are for: the encrypted pass what touches SQLite (the
    PostgreSQL tests were run by the first), the PgBouncer pass what touches PostgreSQL."""
    if TEST_SQLITE_KEY:
        _keep(config, items, lambda item: not _on_postgres(item))
    elif through_pgbouncer(config):
        _keep(config, items, lambda item: "sqlite" not in _params(item).values())


def _params(item: pytest.Item) -> dict[str, Any]:
    return getattr(getattr(item, "callspec", None), "params", {})


def _on_postgres(item: pytest.Item) -> bool:
    return "postgresql" in _params(item).values() or bool(_PG_FIXTURES & set(item.fixturenames))


def _keep(
    config: pytest.Config, items: list[pytest.Item], wanted: Callable[[pytest.Item], bool]
) -> None:
    kept = [item for item in items if wanted(item)]
    config.hook.pytest_deselected(items=[item for item in items if not wanted(item)])
    items[:] = kept


def open_sqlite(path: Path) -> Any:
    """A driver connection to a chaindb SQLite file, keyed when the suite runs encrypted."""
    return open_file(path, Settings.from_env())


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A developer's own CHAINDB_URL or module choice must not leak into a test; the backups
    a destructive command takes go to the test's own directory. Through PgBouncer, every
    Database (and every child process) is told it is pooled."""
    for name in _CHAINDB_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINDB_BACKUP_DIR", str(tmp_path / "backups"))
    if through_pgbouncer(request.config):
        monkeypatch.setenv("CHAINDB_POOLER", "transaction")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        message = f"{PG_URL_ENV} is not set: run the suite with `make test`"
        if in_ci():
            pytest.fail(message + " (PostgreSQL tests must run under CI)")
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def pg_client_url(pg_admin_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """Where the tests' own connections go: the server, or PgBouncer in front of it."""
    if not through_pgbouncer(request.config):
        yield pg_admin_url
        return
    from tests.pgbouncer import pgbouncer_in_front_of

    with pgbouncer_in_front_of(pg_admin_url) as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture
def pg_url(pg_admin_url: str, pg_client_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards: empty, or already the copy of the
    template that the test's core_db or demo_db wants (one CREATE DATABASE, not two)."""
    name = f"chaindb_test_{uuid.uuid4().hex[:12]}"
    template = _template_wanted(request)
    copied = f' TEMPLATE "{template}"' if template else ""
    with _admin(pg_admin_url) as admin:
        admin.exec_driver_sql(f'CREATE DATABASE "{name}"{copied}{FASTEST_COPY}')
    _COPIED_FROM[name] = template
    yield make_url(pg_client_url).set(database=name).render_as_string(hide_password=False)
    with _admin(pg_admin_url) as admin:
        admin.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    _COPIED_FROM.pop(name, None)


_COPIED_FROM: dict[str, str | None] = {}  # a test database's name -> the template it copies
# Copying the files takes 54 ms for an empty database and 110 ms for the migrated template,
# where PostgreSQL 15's default (WAL_LOG, page by page through the WAL) takes 81 and 141 ms:
# this server runs without fsync, so the checkpoints FILE_COPY asks for cost little.
FASTEST_COPY = " STRATEGY FILE_COPY"


def _template_wanted(request: pytest.FixtureRequest) -> str | None:
    """The template core_db or demo_db would copy over this database (None: it stays empty,
    or core_db migrates it for a module of the test's own)."""
    wanted = set(request.fixturenames)
    if "module_folder" in wanted:
        return None
    if "demo_db" in wanted:
        return request.getfixturevalue("demo_pg_template")
    if "core_db" in wanted:
        return request.getfixturevalue("pg_template")
    return None


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        if through_pgbouncer(request.config):
            pytest.skip("through PgBouncer: PostgreSQL only")
        return f"sqlite:///{tmp_path / 'chaindb.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(db_url: str) -> Iterator[chaindb.Database]:
    database = chaindb.connect(db_url)
    yield database
    database.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per test process; core_db copies it."""
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    database = chaindb.connect(f"sqlite:///{path}")
    migrations.migrate(database)
    database.close()
    driver = open_sqlite(path)
    driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the file itself
    driver.close()
    return path


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head once per test process; core_db clones it."""
    name = f"chaindb_template_{uuid.uuid4().hex[:12]}"
    with _admin(pg_admin_url) as admin:
        admin.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = chaindb.connect(make_url(pg_admin_url).set(database=name).render_as_string(False))
    migrations.migrate(database)
    if os.environ.get(PARTITIONED_ENV):
        _partition_every_table(database)
    database.close()
    yield name
    with _admin(pg_admin_url) as admin:
        admin.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')


def _partition_every_table(database: chaindb.Database) -> None:
    """CHAINDB_TEST_PARTITIONED=1: the template's append-only tables partitioned by month
    (ops/partitions.py), so that the tests of the migrated database run on them."""
    from chaindb.ops import partitions

    for table in partitions.partitionable_tables(database):
        partitions.enable(database, table=table, interval="month")


@contextmanager
def _admin(pg_admin_url: str) -> Iterator[sa.Connection]:
    admin_url = make_url(pg_admin_url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


@pytest.fixture(scope="session")
def demo_sqlite_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sqlite_template with `chaindb demo`'s story told on it, once per test process: the
    story takes seconds (50,000 plays, an EVM), and several test modules read its data."""
    path = tmp_path_factory.mktemp("demo-template") / "demo.sqlite3"
    shutil.copyfile(sqlite_template, path)
    tell_demo(f"sqlite:///{path}")
    driver = open_sqlite(path)
    driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    driver.close()
    return path


@pytest.fixture(scope="session")
def demo_pg_template(pg_admin_url: str, pg_template: str) -> Iterator[str]:
    """pg_template with the demo's story told on it, once per test process."""
    name = f"chaindb_demo_{uuid.uuid4().hex[:12]}"
    with _admin(pg_admin_url) as admin:
        admin.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    tell_demo(make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False))
    yield name
    with _admin(pg_admin_url) as admin:
        admin.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')


def tell_demo(url: str) -> None:
    import io

    from rich.console import Console

    from chaindb.demo import run_demo

    with chaindb.connect(url) as database:
        run_demo(database, Console(file=io.StringIO()))


def copy_template(db: chaindb.Database, request: pytest.FixtureRequest, *, demo: bool) -> None:
    """Replace `db` with a copy of the migrated template (`demo`: the one the demo filled)."""
    db.engine.dispose()  # no connection may stay open on a file or database replaced here
    prefix = "demo_" if demo else ""
    if db.backend == "sqlite":
        shutil.copyfile(request.getfixturevalue(f"{prefix}sqlite_template"), db.url.database)
        return
    template = request.getfixturevalue(f"{prefix}pg_template")
    if _COPIED_FROM.get(db.url.database) == template:
        return  # pg_url made it a copy already
    with _admin(request.getfixturevalue("pg_admin_url")) as admin:
        admin.exec_driver_sql(f'DROP DATABASE "{db.url.database}" WITH (FORCE)')
        admin.exec_driver_sql(
            f'CREATE DATABASE "{db.url.database}" TEMPLATE "{template}"{FASTEST_COPY}'
        )


@pytest.fixture
def core_db(db: chaindb.Database, request: pytest.FixtureRequest) -> chaindb.Database:
    """A database migrated to head (every module): a copy of a template migrated once per
    test process (migrating each time would cost most of the suite's time), or migrated here
    when the test chose its own modules."""
    if os.environ.get("CHAINDB_MODULES") or os.environ.get("CHAINDB_MODULE_PATHS"):
        migrations.migrate(db)
        return db
    copy_template(db, request, demo=False)
    return db


@pytest.fixture
def demo_db(db: chaindb.Database, request: pytest.FixtureRequest) -> chaindb.Database:
    """A database with the demo's data (every module's story): a copy of a template filled
    once per test process."""
    copy_template(db, request, demo=True)
    return db


@pytest.fixture
def ledger_db(core_db: chaindb.Database) -> chaindb.Database:
    """Migrated, with users alice, bob, carol and dave."""
    from chaindb import core

    for user in ("alice", "bob", "carol", "dave"):
        core.create_user(core_db, user, user)
    return core_db


class ModuleFolder:
    """A migration module of the test's own, registered through CHAINDB_MODULE_PATHS."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def write(
        self,
        number: int,
        upgrade: str,
        downgrade: str = "pass",
        *,
        depends_on: str | None = "core_0001",
        doc: str | None = None,
    ) -> Path:
        revision = f"{self.name}_{number:04d}"
        down = f"{self.name}_{number - 1:04d}" if number > 1 else None
        labels = (self.name,) if number == 1 else None
        source = (
            f'"""{doc or "step " + str(number)}"""\n\n'
            "import sqlalchemy as sa\n"
            "from alembic import op\n\n"
            f"revision = {revision!r}\n"
            f"down_revision = {down!r}\n"
            f"branch_labels = {labels!r}\n"
            f"depends_on = {depends_on!r}\n\n\n"
            "def upgrade():\n"
            + textwrap.indent(textwrap.dedent(upgrade).strip() or "pass", "    ")
            + "\n\n\ndef downgrade():\n"
            + textwrap.indent(textwrap.dedent(downgrade).strip() or "pass", "    ")
            + "\n"
        )
        path = self.path / f"{revision}_step.py"
        path.write_text(source)
        return path


@pytest.fixture
def module_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleFolder:
    path = tmp_path / "app_migrations"
    path.mkdir()
    monkeypatch.setenv("CHAINDB_MODULE_PATHS", f"app={path}")
    # The engine's tests use the app module and what it needs (core), not every module.
    monkeypatch.setenv("CHAINDB_MODULES", "app")
    return ModuleFolder("app", path)


def statistics_targets(db: chaindb.Database, table: str) -> set[int]:
    """Every column's statistics target on `table` and its partitions (-1: the default)."""
    with db.read() as conn:
        return set(
            conn.execute(
                sa.text(
                    "SELECT DISTINCT coalesce(attstattarget, -1) FROM pg_attribute"
                    " WHERE attnum > 0 AND NOT attisdropped AND (attrelid = to_regclass(:t)"
                    " OR attrelid IN (SELECT inhrelid FROM pg_inherits"
                    " WHERE inhparent = to_regclass(:t)))"
                ),
                {"t": table},
            ).scalars()
        )


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None):
    """Run the real `chaindb` command in a child process (forked from one that imported
    chaindb already: tests/cli_fork.py)."""
    full_env = {**os.environ, **(env or {})}
    if forking():
        return run_forked(list(args), full_env, stdin, timeout_s=300)
    return subprocess.run(
        [sys.executable, "-m", "chaindb", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        timeout=300,
    )
