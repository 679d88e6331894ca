"""Export: every row of the chosen tables, streamed in constant memory, in foreign-key order.

    export_rows(db, output=Path("dump.jsonl"), file_format="json")    # chaindb export

- json: JSON Lines. A first line names the export (`{"chaindb_export": 1, "tables": [...]}`),
  then one line per row: `{"table": "users", "row": {...}}`. Amounts are decimal strings
  (exact, whatever the reader's number type), timestamps ISO 8601 UTC, bytes `0x` + hex.
- csv: a directory, one `<table>.csv` per table with a header line; NULL is `\\N` (as in
  PostgreSQL's COPY), so that it differs from an empty string.
- sql: INSERT … ON CONFLICT DO NOTHING statements for the database's own backend (the values
  as it stores them): loaded into a migrated database, rows it has already are kept.
Tables are those of the modules the database uses (chaindb's own bookkeeping excepted: the
target has its own; so are the tables a module derives from others, its `derived_tables`,
such as a search index its triggers rebuild), and the application's tables beside them.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex, CreateTable

from chaindb.catalog import table_names
from chaindb.database import Database
from chaindb.errors import InvalidInput
from chaindb.ops.export_json import ROWS_PER_FETCH, Chunk, chunks_by_the_database
from chaindb.ops.export_split import split_chunks
from chaindb.ops.modules import installed_faces
from chaindb.sqlite_engine import one_pass_reads
from chaindb.types import AddressType, AmountType, parse_address, utc_now

ExportFormat = Literal["json", "csv", "sql"]
EXPORT_FORMAT_VERSION = 1
CSV_NULL = "\\N"
BOOKKEEPING_PREFIX = "chaindb_"
Progress = Callable[[str, int], None]  # (table, rows so far)


@dataclass
class ExportReport:
    file_format: str
    output: str
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.file_format, "output": self.output, "rows": self.rows}


def export_rows(
    db: Database,
    *,
    output: Path | None = None,
    file_format: ExportFormat = "json",
    tables: Sequence[str] = (),
    modules: Sequence[str] = (),
    on_rows: Progress | None = None,
) -> ExportReport:
    """Write the rows of `tables` (default: every table of `modules`, default all) to
    `output` (a file; for csv a directory; None: standard output, one table for csv)."""
    if file_format not in ("json", "csv", "sql"):
        raise InvalidInput("format", file_format, "must be json, csv or sql")
    db.require_exists()
    chosen = export_tables(db, tables=tables, modules=modules)
    report = ExportReport(file_format, str(output) if output else "-")
    writer = {"json": _write_json, "csv": _write_csv, "sql": _write_sql}[file_format]
    with db.replica_read() as conn, one_pass_reads(conn):  # a snapshot, maybe a little behind
        _without_statement_timeout(conn)
        writer(conn, chosen, output, report, on_rows or (lambda _table, _rows: None))
    return report


def _without_statement_timeout(conn: Connection) -> None:
    """PostgreSQL reads each table in one statement, however many its rows: the statement
    timeout (CHAINDB_STATEMENT_TIMEOUT_S, 30 s) would cut a large table short (10M ledger
    rows take about that on 2 busy cores). This read transaction's alone."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")


def export_schema(db: Database, *, tables: Sequence[str] = (), modules: Sequence[str] = ()) -> str:
    """The DDL of the chosen tables (and their indexes), for the database's own backend."""
    dialect = db.engine.dialect
    parts = []
    for table in export_tables(db, tables=tables, modules=modules):
        parts.append(str(CreateTable(table).compile(dialect=dialect)).strip() + ";")
        parts += [str(CreateIndex(i).compile(dialect=dialect)).strip() + ";" for i in table.indexes]
    return "\n\n".join(parts) + "\n"


def export_tables(
    db: Database, *, tables: Sequence[str] = (), modules: Sequence[str] = ()
) -> list[sa.Table]:
    """The tables to export, parents before children: the chosen modules' own (typed, from
    their faces' metadata), then the application's tables (reflected)."""
    faces = installed_faces(db)
    unknown = [m for m in modules if m not in {name for name, _ in faces}]
    if unknown:
        raise InvalidInput("module", unknown[0], "is not a module this database uses")
    typed = [
        table
        for name, face in faces
        if not modules or name in modules
        for table in face.metadata.sorted_tables
    ]
    derived = {name for _, face in faces for name in getattr(face, "derived_tables", ())}
    with db.connection() as conn:
        existing = table_names(conn)
        skipped = {table.name for table in typed} | derived | _sqlite_virtual(conn, existing)
        others = sa.MetaData()
        if not modules:
            theirs = [
                n for n in existing if n not in skipped and not n.startswith(BOOKKEEPING_PREFIX)
            ]
            if tables:  # only those asked for
                theirs = [n for n in theirs if n in tables]
            if theirs:  # reflect(only=[]) still runs its catalog queries: 30-70 ms, for nothing
                others.reflect(conn, only=theirs)
    chosen = [t for t in typed if t.name in existing] + list(others.sorted_tables)
    if tables:
        missing = [name for name in tables if name not in {t.name for t in chosen}]
        if missing:
            raise InvalidInput("table", missing[0], "is not a table this export can read")
        chosen = [t for t in chosen if t.name in tables]
    return chosen


def _sqlite_virtual(conn: Connection, existing: list[str]) -> set[str]:
    """SQLite's virtual tables (FTS5 search indexes) and the tables behind them: derived, and
    rebuilt by their triggers on import."""
    if conn.dialect.name != "sqlite":
        return set()
    virtual = [
        row[0]
        for row in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'"
        )
    ]
    return {name for name in existing for v in virtual if name == v or name.startswith(f"{v}_")}


def rows_of(conn: Connection, table: sa.Table) -> Iterator[sa.RowMapping]:
    """The table's rows in primary-key order, fetched ROWS_PER_FETCH at a time."""
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(stream_results=True, yield_per=ROWS_PER_FETCH).execute(
        sa.select(table).order_by(*order)
    )
    yield from result.mappings()


def portable(value: Any, column: sa.Column) -> Any:
    """A value as JSON and CSV carry it: amounts as decimal strings, timestamps ISO 8601 UTC,
    bytes as 0x-hex, addresses as stored; ints, strings, booleans and JSON as they are."""
    if isinstance(column.type, AddressType) and value is not None:
        return parse_address(value)  # as stored (lowercase EVM): what the database's JSON says
    if value is None or isinstance(value, bool | str | dict | list | float):
        return value
    if isinstance(value, int):
        return str(value) if isinstance(column.type, AmountType) else value
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    return str(value)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC as PostgreSQL's JSON writes it: the fraction's trailing zeros cut."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "+00:00"


# --- writers ---------------------------------------------------------------------------------


@contextmanager
def _opened(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        yield file


@contextmanager
def _opened_bytes(path: Path | None) -> Iterator[IO[bytes]]:
    """Where JSON Lines go, as bytes: PostgreSQL's COPY blocks are written as they arrive,
    never decoded and encoded again."""
    if path is None:
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        yield file


def _write_json(
    conn: Connection,
    tables: list[sa.Table],
    output: Path | None,
    report: ExportReport,
    say: Progress,
) -> None:
    with _opened_bytes(output) as out:
        header = {
            "chaindb_export": EXPORT_FORMAT_VERSION,
            "backend": conn.dialect.name,
            "created_at": utc_now().isoformat(),
            "tables": [table.name for table in tables],
        }
        out.write((json.dumps(header) + "\n").encode())
        for table in tables:
            chunks = (
                split_chunks(conn, table, spool_dir=output.parent if output else None)
                or chunks_by_the_database(conn, table)
                or chunks_by_python(conn, table)
            )
            count = 0
            # Closed at once if a write fails (a closed pipe, a full disk): a PostgreSQL
            # stream left open holds the connection's lock, and the rollback would wait on it.
            with closing(chunks):
                for chunk in chunks:
                    out.write(chunk.lines)
                    count += chunk.rows
                    say(table.name, count)
            report.rows[table.name] = count
            say(table.name, count)


def chunks_by_python(conn: Connection, table: sa.Table) -> Iterator[Chunk]:
    """The JSON Lines of a table the database cannot write (export_json.sql_of), by Python."""
    lines: list[str] = []
    for row in rows_of(conn, table):
        record = {c.name: portable(row[c.name], c) for c in table.columns}
        lines.append(json.dumps({"table": table.name, "row": record}, ensure_ascii=False))
        if len(lines) == ROWS_PER_FETCH:
            yield Chunk(("\n".join(lines) + "\n").encode(), len(lines))
            lines = []
    if lines:
        yield Chunk(("\n".join(lines) + "\n").encode(), len(lines))


def _write_csv(
    conn: Connection,
    tables: list[sa.Table],
    output: Path | None,
    report: ExportReport,
    say: Progress,
) -> None:
    if output is None and len(tables) != 1:
        raise InvalidInput("output", None, "csv needs a directory (--output DIR) for many tables")
    with ExitStack() as stack:
        for table in tables:
            path = None if output is None else output / f"{table.name}.csv"
            out = stack.enter_context(_opened(path))
            writer = csv.writer(out)
            writer.writerow([c.name for c in table.columns])
            count = 0
            for row in rows_of(conn, table):
                writer.writerow([_csv_cell(row[c.name], c) for c in table.columns])
                count += 1
                if count % ROWS_PER_FETCH == 0:
                    say(table.name, count)
            report.rows[table.name] = count
            say(table.name, count)


def _csv_cell(value: Any, column: sa.Column) -> str:
    shown = portable(value, column)
    if shown is None:
        return CSV_NULL
    if isinstance(shown, bool):
        return "true" if shown else "false"
    if isinstance(shown, dict | list):
        return json.dumps(shown, ensure_ascii=False)
    return str(shown)


def _write_sql(
    conn: Connection,
    tables: list[sa.Table],
    output: Path | None,
    report: ExportReport,
    say: Progress,
) -> None:
    dialect = conn.dialect
    with _opened(output) as out:
        for table in tables:
            columns = list(table.columns)
            binders = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
            quote = dialect.identifier_preparer
            names = ", ".join(quote.quote(c.name) for c in columns)
            head = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES "
            count = 0
            for row in rows_of(conn, table):
                values = [
                    _sql_literal(bind(row[c.name]) if bind else row[c.name], dialect.name)
                    for c, bind in zip(columns, binders, strict=True)
                ]
                out.write(f"{head}({', '.join(values)}) ON CONFLICT DO NOTHING;\n")
                count += 1
                if count % ROWS_PER_FETCH == 0:
                    say(table.name, count)
            report.rows[table.name] = count
            say(table.name, count)


def _sql_literal(value: Any, backend: str) -> str:
    """A value as the database stores it (after the column type's bind processor), as SQL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if backend == "postgresql" else str(int(value))
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        hexed = bytes(value).hex()
        return f"'\\x{hexed}'::bytea" if backend == "postgresql" else f"X'{hexed}'"
    if isinstance(value, datetime | date):
        value = value.isoformat()
    elif isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return "'" + str(value).replace("'", "''") + "'"
