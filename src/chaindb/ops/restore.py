"""Restore a backup, and check that what came back is what went in.

    report = restore(Path("backups/app-….dump"), to=db, clean=False)   # chaindb restore
    report = verify_backup(Path("backups/app-….dump"), like=db)         # chaindb backup --verify

Before anything is touched, the file must match its manifest (sha256 and size: a truncated or
damaged file is refused) and the target must be empty (or `clean`). SQLite: the copy is
unpacked and checked beside the target, then moved over it in one rename. PostgreSQL:
`pg_restore --single-transaction`, so a failure leaves the target as it was (over partitioned
tables, its script through psql in one transaction, the same way). Afterwards the
restored database is compared with the manifest (revisions and their checksums, row counts),
`validate` runs, and every module's verify.
"""

from __future__ import annotations

import gzip
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import chaindb
from chaindb import migrations
from chaindb.catalog import KEY_TABLE_SUFFIX, table_names
from chaindb.config import Settings
from chaindb.database import Database
from chaindb.errors import ChaindbError, InvalidInput
from chaindb.ops.backup import Manifest, count_rows, sha256_of
from chaindb.ops.maintenance import run_maintenance
from chaindb.ops.postgres_tools import libpq_environment, postgres_tool
from chaindb.sqlite_engine import open_file, sqlite_driver, sqlite_path, unreadable

PG_RESTORE_TIMEOUT_S = 6 * 3600
UNPACK_CHUNK_BYTES = 1 << 20


class RestoreRefused(ChaindbError):
    """The backup or the target cannot be used; the target was not touched."""


@dataclass
class RestoreReport:
    backup: str
    target: str
    problems: list[str] = field(default_factory=list)
    tables_restored: int = 0
    rows_restored: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def check_file(path: Path) -> Manifest:
    """The backup's manifest, once the file is whole: its sha256 and size as recorded."""
    if not path.is_file():
        raise RestoreRefused(f"backup {path}: no such file")
    manifest = Manifest.read(path)
    size = path.stat().st_size
    if size != manifest.size_bytes or sha256_of(path) != manifest.sha256:
        raise RestoreRefused(
            f"backup {path} is damaged or truncated: {size} bytes, sha256 differs from its "
            f"manifest ({manifest.size_bytes} bytes); nothing was restored"
        )
    return manifest


def restore(path: Path, *, to: Database, clean: bool = False) -> RestoreReport:
    """Restore the backup at `path` into `to`, then check it (see the module's docstring)."""
    manifest = check_file(path)
    if manifest.backend != to.backend:
        raise RestoreRefused(
            f"backup {path.name} is of a {manifest.backend} database, the target is "
            f"{to.backend}: move between backends with `chaindb export` and `chaindb import`"
        )
    _refuse_unless_ready(to, manifest, clean)
    if to.backend == "sqlite":
        _restore_sqlite(path, to)
    else:
        _restore_postgres(path, to, manifest, clean)
    return compare(path, manifest, to)


def verify_backup(path: Path, *, like: Database) -> RestoreReport:
    """Restore into a scratch database beside `like` (a temporary file; a new database on the
    same PostgreSQL server, dropped afterwards) and check it: the restoration drill."""
    manifest = check_file(path)
    with _scratch(like, manifest.backend) as scratch:
        return restore(path, to=scratch)


def compare(path: Path, manifest: Manifest, db: Database) -> RestoreReport:
    """What the restored database says against the manifest, validate and every verify."""
    report = RestoreReport(backup=str(path), target=db.display_url)
    applied = migrations.applied_migrations(db)
    restored = {revision: m.checksum for revision, m in applied.items()}
    recorded = {
        rev: checksum for revs in manifest.modules.values() for rev, checksum in revs.items()
    }
    if manifest.contents != "data" and restored != recorded:
        missing = sorted(set(recorded) - set(restored))
        report.problems.append(f"migrations differ from the manifest (missing: {missing})")
    if manifest.contents != "schema":
        with db.read() as conn:
            counts = count_rows(conn)
        report.tables_restored = len(counts)
        report.rows_restored = sum(counts.values())
        for table, expected in sorted(manifest.row_counts.items()):
            if counts.get(table) != expected:
                report.problems.append(
                    f"table {table}: {counts.get(table)} rows, the manifest says {expected}"
                )
    report.problems += [f"validate: {problem}" for problem in migrations.validate(db).problems]
    if manifest.contents != "schema":
        report.problems += run_maintenance(db, check=True).problems
    return report


def _refuse_unless_ready(db: Database, manifest: Manifest, clean: bool) -> None:
    tables = _tables(db)
    if manifest.contents == "data":
        if not tables:
            raise RestoreRefused("a data-only backup needs the schema: migrate the target first")
        with db.read() as conn:
            filled = [
                name
                for name, count in count_rows(conn).items()
                if count and not name.startswith("chaindb_")
            ]
        if filled:
            raise RestoreRefused(
                f"a data-only backup needs empty tables: {', '.join(filled[:5])} hold rows"
            )
        return
    if tables and not clean:
        raise RestoreRefused(
            f"the target {db.display_url} is not empty ({len(tables)} tables): restore into an "
            "empty database, or replace it with --clean; nothing was restored"
        )


def _partitioned_tables(db: Database) -> list[str]:
    if db.backend != "postgresql":
        return []
    with db.connection() as conn:
        return list(
            conn.exec_driver_sql(
                "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c"
                " ON c.oid = p.partrelid ORDER BY 1"
            ).scalars()
        )


def _tables(db: Database) -> list[str]:
    if not db.exists():
        return []
    with db.connection() as conn:
        return table_names(conn)


# --- SQLite ----------------------------------------------------------------------------------


def _restore_sqlite(path: Path, db: Database) -> None:
    """Unpack beside the target, check it whole, then one rename over the target (and its WAL
    and shared-memory files gone first, or SQLite would replay them over the new file)."""
    target = sqlite_path(db.url)
    if target is None:
        raise RestoreRefused("restoring into an in-memory SQLite database keeps nothing")
    unpacked = target.with_name(f".{target.name}.restoring-{secrets.token_hex(4)}")
    try:
        with gzip.open(path, "rb") as packed, unpacked.open("wb") as raw:
            shutil.copyfileobj(packed, raw, UNPACK_CHUNK_BYTES)
        _require_intact(unpacked, db.settings)
        db.engine.dispose()  # no pooled connection may stay on the old file
        for suffix in ("-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(unpacked, target)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise RestoreRefused(f"backup {path.name} cannot be unpacked: {error}") from None
    finally:
        unpacked.unlink(missing_ok=True)


def _require_intact(copy: Path, settings: Settings) -> None:
    """The backup's database passes SQLite's integrity check (read with the target's key)."""
    try:
        driver = open_file(copy, settings)
        try:
            rows = [row[0] for row in driver.execute("PRAGMA integrity_check")]
        finally:
            driver.close()
    except sqlite_driver(settings).DatabaseError as error:
        if getattr(error, "sqlite_errorname", "") == "SQLITE_NOTADB":
            reason = unreadable(None, settings)
            raise RestoreRefused(f"the backup cannot be read: {reason}") from None
        raise RestoreRefused(f"the backup's database is damaged: {error}") from None
    if rows != ["ok"]:
        raise RestoreRefused(f"the backup's database is damaged: {'; '.join(rows[:3])}")


# --- PostgreSQL ------------------------------------------------------------------------------


def _restore_postgres(path: Path, db: Database, manifest: Manifest, clean: bool) -> None:
    with db.connection() as conn:
        server = str(conn.exec_driver_sql("SHOW server_version").scalar_one())
    tool = str(postgres_tool("pg_restore", server))
    listed = _run([tool, "--list", str(path)], db)
    if listed.returncode != 0:
        raise RestoreRefused(
            f"backup {path.name} is not a readable archive: {listed.stderr.strip()}"
        )
    command = [
        tool,
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        f"--dbname={db.url.database}",
    ]
    partitioned = _partitioned_tables(db) if clean and manifest.contents != "data" else []
    if clean and manifest.contents != "data":
        command += ["--clean", "--if-exists"]
    if partitioned:
        ran = _restore_over_partitions(tool, path, db, server, partitioned)
    else:
        ran = _run([*command, str(path)], db)
    if ran.returncode != 0:
        reason = db.describe_error(Exception(ran.stderr.strip()))
        raise RestoreRefused(f"pg_restore failed, the target is as it was: {reason}")
    with db.connection() as conn:  # pg_restore leaves no planner statistics
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def _restore_over_partitions(
    tool: str, path: Path, db: Database, server: str, partitioned: list[str]
) -> subprocess.CompletedProcess[str]:
    """--clean over partitioned tables (ops/partitions.py): pg_restore would drop each
    partition's primary key before its table, which PostgreSQL refuses (the key is the
    parent's). So its script runs through psql in one transaction after a prelude that drops
    the partitioned tables whole, with their key tables and trigger functions (what depends
    on them goes too, and comes back from the backup): a failure leaves the target as it was."""
    psql = str(postgres_tool("psql", server))
    environment = libpq_environment(db.url)
    with tempfile.TemporaryDirectory(prefix="chaindb-restore-") as folder:
        prelude = Path(folder) / "prelude.sql"
        prelude.write_text(_dropped_whole(partitioned))
        script = subprocess.Popen(
            [tool, "--clean", "--if-exists", "--no-owner", "--file=-", str(path)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # an unreadable archive was refused before
        )
        assert script.stdout is not None
        runner = subprocess.Popen(
            [psql, "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
             f"--file={prelude}", "--file=-"],
            stdin=script.stdout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environment,
            text=True,
        )  # fmt: skip
        script.stdout.close()  # psql's now: pg_restore stops if psql does
        try:
            _, errors = runner.communicate(timeout=PG_RESTORE_TIMEOUT_S)
        finally:
            for process in (runner, script):
                if process.poll() is None:
                    process.kill()
                process.wait()
    return subprocess.CompletedProcess(runner.args, runner.returncode, "", errors)


def _dropped_whole(partitioned: list[str]) -> str:
    """Each partitioned table, its key table and their trigger functions, dropped."""
    statements = []
    for table in partitioned:
        keys = f"{table}{KEY_TABLE_SUFFIX}"
        statements += [
            f"DROP TABLE IF EXISTS {_quoted(table)} CASCADE;",
            f"DROP TABLE IF EXISTS {_quoted(keys)} CASCADE;",
            *(f"DROP FUNCTION IF EXISTS {_quoted(f'{keys}_{event}')}() CASCADE;"
              for event in ("insert", "delete", "update")),
        ]  # fmt: skip
    return "\n".join(statements) + "\n"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _run(command: list[str], db: Database) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=libpq_environment(db.url),
        capture_output=True,
        text=True,
        timeout=PG_RESTORE_TIMEOUT_S,
        check=False,
    )


@contextmanager
def _scratch(like: Database, backend: str) -> Iterator[Database]:
    if backend != like.backend:
        raise InvalidInput(
            "backup", backend, f"must be of a {like.backend} database to verify here"
        )
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="chaindb-verify-") as directory:
            path = Path(directory) / "verify.sqlite3"
            scratch = Database(sa.engine.make_url(f"sqlite:///{path}"), like.settings)
            try:
                yield scratch
            finally:
                scratch.close()
        return
    name = f"chaindb_verify_{secrets.token_hex(6)}"
    with like.connection() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f'CREATE DATABASE "{name}"'
        )
    scratch = chaindb.connect(like.url.set(database=name).render_as_string(hide_password=False))
    try:
        yield scratch
    finally:
        scratch.close()
        with like.connection() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
