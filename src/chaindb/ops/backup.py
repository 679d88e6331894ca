"""Backups: a consistent copy of the database, compressed, named by time, with a manifest.

    result = backup(db, directory=Path("backups"), keep_days=30)   # chaindb backup
    result.path, result.manifest

- SQLite: the online backup API, all pages in one step (a consistent snapshot while writers
  go on in WAL mode), gzip-compressed.
- PostgreSQL: `pg_dump` in its custom format (compressed), the client of the server's own
  major version (a newer pg_dump writes SQL an older server refuses, an older one refuses a
  newer server). It dumps the snapshot in which the manifest's row counts were taken.

The manifest (`<backup>.manifest.json` beside it) holds chaindb's version, each module's
applied revisions and their checksums, the row count of every table, and the sha256 of the
backup file: restore refuses a file that does not match it, before touching anything.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from chaindb import migrations
from chaindb.catalog import table_names
from chaindb.config import Settings
from chaindb.database import Database
from chaindb.errors import ChaindbError, InvalidInput
from chaindb.ops.postgres_tools import libpq_environment, postgres_tool
from chaindb.sqlite_engine import open_file, sqlite_driver, sqlite_path
from chaindb.types import utc_now

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1
KEEP_DAYS_MAX = 36_500
BACKUP_DIR_ENV = "CHAINDB_BACKUP_DIR"
BOOKKEEPING_PREFIX = "chaindb_"  # chaindb_migrations and its history: part of the schema's state
HASH_CHUNK_BYTES = 1 << 20
PG_DUMP_TIMEOUT_S = 6 * 3600  # a bound, not an expectation: a 1 GB database takes a minute


class BackupFailed(ChaindbError):
    """The backup could not be made (the tool's own message says why); nothing was kept."""


@dataclass
class Manifest:
    chaindb_version: str
    backend: str
    database: str  # masked
    created_at: str  # ISO 8601 UTC
    contents: str  # 'full', 'schema' or 'data'
    file: str  # the backup file's name, beside the manifest
    sha256: str
    size_bytes: int
    modules: dict[str, dict[str, str]]  # module -> {revision: checksum}
    row_counts: dict[str, int]
    format: int = MANIFEST_FORMAT
    server_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls, backup_path: Path) -> Manifest:
        path = manifest_path(backup_path)
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except FileNotFoundError:
            raise InvalidInput(
                "backup", str(backup_path), f"has no manifest beside it ({path.name})"
            ) from None
        except (ValueError, TypeError) as error:
            raise InvalidInput("backup", str(path), f"is not a chaindb manifest: {error}") from None


@dataclass
class BackupResult:
    path: Path
    manifest: Manifest
    pruned: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "manifest": self.manifest.as_dict(), "pruned": self.pruned}


def manifest_path(backup_path: Path) -> Path:
    return backup_path.with_name(backup_path.name + MANIFEST_SUFFIX)


def backup(
    db: Database,
    *,
    directory: Path | None = None,
    output: Path | None = None,
    schema_only: bool = False,
    data_only: bool = False,
    keep_days: int | None = None,
) -> BackupResult:
    """Back up `db` into `output` (default: a file named by time in `directory`, else
    CHAINDB_BACKUP_DIR, else `backups/` beside a SQLite file or in the working directory), with
    its manifest; then, with `keep_days`, delete this database's backups older than that."""
    if schema_only and data_only:
        raise InvalidInput("schema_only", True, "choose schema only or data only, not both")
    if keep_days is not None and not 1 <= keep_days <= KEEP_DAYS_MAX:
        raise InvalidInput("keep_days", keep_days, f"must be between 1 and {KEEP_DAYS_MAX}")
    db.require_exists()
    contents = "schema" if schema_only else "data" if data_only else "full"
    stem = backup_stem(db)
    target = output or (directory or default_directory(db)) / _file_name(stem, db.backend, contents)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise InvalidInput("output", str(target), "exists already: a backup never overwrites")
    partial = target.with_name(f".{target.name}.partial")
    try:
        if db.backend == "sqlite":
            row_counts = _sqlite_backup(db, partial, contents)
            server_version = f"SQLite {sqlite_driver(db.settings).sqlite_version}"
        else:
            row_counts, server_version = _postgres_backup(db, partial, contents)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    manifest = _manifest(db, target, contents, row_counts, server_version)
    manifest_path(target).write_text(json.dumps(manifest.as_dict(), indent=2) + "\n")
    pruned = prune(target.parent, stem, keep_days, keep=target) if keep_days else []
    return BackupResult(target, manifest, pruned)


def default_directory(db: Database) -> Path:
    """CHAINDB_BACKUP_DIR, else `backups/` beside the SQLite file, else ./backups."""
    if configured := os.environ.get(BACKUP_DIR_ENV):
        return Path(configured).expanduser()
    path = sqlite_path(db.url)
    return (path.parent if path is not None else Path()) / "backups"


def backup_stem(db: Database) -> str:
    """What this database's backups are named after: the SQLite file's name, or the
    PostgreSQL database's (only letters, digits, '-', '_')."""
    path = sqlite_path(db.url)
    name = path.stem if path is not None else (db.url.database or "postgres")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name) or "chaindb"


def prune(directory: Path, stem: str, keep_days: int, *, keep: Path) -> list[str]:
    """Delete this database's backups (and their manifests) made more than keep_days ago,
    as their manifests say; never `keep`, never a file without a manifest."""
    cutoff = utc_now() - timedelta(days=keep_days)
    pruned = []
    for manifest_file in sorted(directory.glob(f"{stem}-*{MANIFEST_SUFFIX}")):
        backup_file = manifest_file.with_name(manifest_file.name.removesuffix(MANIFEST_SUFFIX))
        if backup_file == keep:
            continue
        try:
            created = datetime.fromisoformat(json.loads(manifest_file.read_text())["created_at"])
        except (ValueError, KeyError, TypeError):
            continue  # not ours to judge
        if created < cutoff:
            backup_file.unlink(missing_ok=True)
            manifest_file.unlink()
            pruned.append(backup_file.name)
    return pruned


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def count_rows(conn: Connection) -> dict[str, int]:
    """Every table's row count (chaindb's, its modules', the application's), by name."""
    names = sorted(table_names(conn))
    quote = conn.dialect.identifier_preparer.quote
    return {
        name: int(conn.exec_driver_sql(f"SELECT count(*) FROM {quote(name)}").scalar_one())
        for name in names
    }


def _file_name(stem: str, backend: str, contents: str) -> str:
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    kind = "" if contents == "full" else f"-{contents}"
    extension = ".sqlite3.gz" if backend == "sqlite" else ".dump"
    return f"{stem}-{stamp}{kind}{extension}"


def _manifest(
    db: Database, path: Path, contents: str, row_counts: dict[str, int], server: str | None
) -> Manifest:
    applied = migrations.applied_migrations(db)
    modules: dict[str, dict[str, str]] = {}
    for revision, migration in sorted(applied.items()):
        modules.setdefault(migration.module, {})[revision] = migration.checksum
    return Manifest(
        chaindb_version=migrations.chaindb_version(),
        backend=db.backend,
        database=db.display_url,
        created_at=utc_now().isoformat(),
        contents=contents,
        file=path.name,
        sha256=sha256_of(path),
        size_bytes=path.stat().st_size,
        modules=modules,
        row_counts={} if contents == "schema" else row_counts,
        server_version=server,
    )


# --- SQLite ----------------------------------------------------------------------------------


def _sqlite_backup(db: Database, target: Path, contents: str) -> dict[str, int]:
    """All pages in one step of the online backup API (one read snapshot: writers go on in WAL
    mode, and nothing restarts the copy), then the copy's row counts, then gzip."""
    with tempfile.TemporaryDirectory(prefix="chaindb-backup-") as scratch:
        copy = Path(scratch) / "copy.sqlite3"
        with db.connection() as conn:
            source = conn.connection.driver_connection
            destination = open_file(copy, db.settings)  # as encrypted as the database
            try:
                source.backup(destination, pages=-1)  # type: ignore[union-attr]
            finally:
                destination.close()
        if contents != "full":
            _keep_only(copy, contents, db.settings)
        with _sqlite(copy, db.settings) as driver:
            names = [row[0] for row in driver.execute(_SQLITE_TABLES)]
            counts = {n: driver.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
        with copy.open("rb") as raw, gzip.open(target, "wb", compresslevel=6) as packed:
            shutil.copyfileobj(raw, packed)
    return counts


_SQLITE_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
)


def _keep_only(copy: Path, contents: str, settings: Settings) -> None:
    """A schema-only copy loses its rows, but for chaindb's bookkeeping (which migrations the
    schema is at); a data-only one keeps them (SQLite's file holds both: 'data only' there is
    the same file, restored where the schema is already)."""
    if contents != "schema":
        return
    with _sqlite(copy, settings) as driver:
        driver.execute("PRAGMA foreign_keys = OFF")
        virtual = [
            row[0]
            for row in driver.execute(
                "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'"
            )
        ]
        for (name,) in driver.execute(_SQLITE_TABLES).fetchall():
            shadow = any(name.startswith(f"{table}_") for table in virtual)  # the FTS index's
            if not name.startswith(BOOKKEEPING_PREFIX) and not shadow:
                driver.execute(f'DELETE FROM "{name}"')
        driver.commit()
        driver.execute("VACUUM")


@contextmanager
def _sqlite(path: Path, settings: Settings) -> Iterator[Any]:
    driver = open_file(path, settings)
    try:
        yield driver
    finally:
        driver.close()


# --- PostgreSQL ------------------------------------------------------------------------------


def _postgres_backup(db: Database, target: Path, contents: str) -> tuple[dict[str, int], str]:
    """pg_dump of the snapshot the row counts are taken in (exported by a transaction held
    open until the dump is done)."""
    with db.connection() as plain:
        conn = plain.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            server = str(conn.exec_driver_sql("SHOW server_version").scalar_one())
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            counts = count_rows(conn)
            _pg_dump(db, target, contents, snapshot, server, tables=sorted(counts))
    return counts, server


def _pg_dump(
    db: Database, target: Path, contents: str, snapshot: str, server: str, *, tables: list[str]
) -> None:
    command = [
        str(postgres_tool("pg_dump", server)),
        "--format=custom",
        "--compress=6",
        "--no-owner",
        f"--snapshot={snapshot}",
        f"--file={target}",
    ]
    # Schema only: every table, and the rows of chaindb's bookkeeping alone (which migrations
    # the schema is at). Data only: every row but the bookkeeping's (the target has its own).
    bookkeeping = [name for name in tables if name.startswith(BOOKKEEPING_PREFIX)]
    if contents == "schema":
        command += [f"--exclude-table-data={name}" for name in tables if name not in bookkeeping]
    elif contents == "data":
        command += ["--data-only", *(f"--exclude-table-data={name}" for name in bookkeeping)]
    ran = subprocess.run(
        command,
        env=libpq_environment(db.url),
        capture_output=True,
        text=True,
        timeout=PG_DUMP_TIMEOUT_S,
        check=False,
    )
    if ran.returncode != 0:
        raise BackupFailed(f"pg_dump failed: {db.describe_error(Exception(ran.stderr.strip()))}")
