"""Import what `chaindb export` wrote (JSON Lines, or CSV files named after their tables),
into a migrated database, all or nothing.

    import_rows(db, [Path("dump.jsonl")], on_conflict="error")          # chaindb import

Every value is read back into its column's type (an amount from its decimal string, exact,
within 0..2**256 - 1; a timestamp from ISO 8601, UTC; bytes from 0x-hex; JSON, booleans,
integers), and, unless `skip_validation`, every row goes through its table's insert model
(chaindb.models: required columns, addresses, hashes, lengths, the values a CHECK lists): a bad
value is refused naming the file, the line and the column, and nothing is written. Tables load
parents first; rows stream through in batches (constant memory) inside one transaction. On
PostgreSQL the tables' id sequences move past the imported ids.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from chaindb.database import Database
from chaindb.errors import ChaindbError, InvalidInput
from chaindb.models import models_for
from chaindb.ops import partitions_keys
from chaindb.ops.bulk_insert import BatchWriter, OnConflict, RowRefused
from chaindb.ops.export import CSV_NULL, EXPORT_FORMAT_VERSION, export_tables
from chaindb.types import UINT256_MAX, AmountType, parse_utc

ROWS_PER_BATCH = 5_000  # a statement's rows (PostgreSQL: a COPY's); memory holds this many
VALUE_SHOWN_CHARS = 60
Progress = Callable[[str, int], None]
CSV_FIELD_CHARS_MAX = 16 * 1024 * 1024  # a large JSON or raw-transaction cell


class ImportRefused(ChaindbError):
    """A row, a file or the target refused the import: nothing was written."""


@dataclass
class ImportReport:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written or kept

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "total": sum(self.rows.values())}


class SourceRow(NamedTuple):  # a tuple: a million of them are made, and soon dropped
    table: str
    values: dict[str, Any]
    file: str
    line: int


def import_rows(
    db: Database,
    files: Sequence[Path],
    *,
    table: str | None = None,
    on_conflict: OnConflict = "error",
    skip_validation: bool = False,
    on_rows: Progress | None = None,
) -> ImportReport:
    """Load `files` into `db` in one transaction (see the module's docstring)."""
    if on_conflict not in ("error", "skip", "update"):
        raise InvalidInput("on_conflict", on_conflict, "must be error, skip or update")
    db.require_exists()
    tables = {t.name: t for t in export_tables(db)}
    say = on_rows or (lambda _table, _rows: None)
    report = ImportReport()
    with db.transaction() as conn:
        writers: dict[str, BatchWriter] = {}

        def flush(batch: list[SourceRow]) -> None:
            name = batch[0].table
            if name not in writers:
                writers[name] = BatchWriter(conn, tables[name], on_conflict)
            _write(conn, writers[name], batch, report, say, skip_taken=on_conflict == "skip")

        for path in _in_table_order(files, table, list(tables)):
            batch: list[SourceRow] = []
            for row in _read(path, table):
                if row.table not in tables:
                    raise ImportRefused(f"{row.file}:{row.line}: table {row.table!r} is unknown")
                if batch and batch[0].table != row.table:
                    flush(batch)
                    batch = []
                batch.append(_typed(row, tables[row.table], skip_validation))
                if len(batch) >= ROWS_PER_BATCH:
                    flush(batch)
                    batch = []
            if batch:
                flush(batch)
        if conn.dialect.name == "postgresql":
            _move_sequences(conn, [tables[name] for name in report.rows])
    return report


# --- reading ---------------------------------------------------------------------------------


def _in_table_order(files: Sequence[Path], table: str | None, order: list[str]) -> list[Path]:
    """CSV files load parents first (a JSON Lines export is in that order already)."""
    if not files:
        raise InvalidInput("files", [], "give at least one file")
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise InvalidInput("files", missing[0], "no such file")

    def rank(path: Path) -> int:
        name = table or path.stem
        return order.index(name) if path.suffix == ".csv" and name in order else -1

    return sorted(files, key=rank)


def _read(path: Path, table: str | None) -> Iterator[SourceRow]:
    if path.suffix == ".csv":
        yield from _read_csv(path, table or path.stem)
    else:
        yield from _read_json_lines(path, table)


def _read_json_lines(path: Path, only: str | None) -> Iterator[SourceRow]:
    name = str(path)
    with path.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise ImportRefused(f"{path}:{number}: not JSON ({error.msg})") from None
            if number == 1 and "chaindb_export" in record:
                if record["chaindb_export"] != EXPORT_FORMAT_VERSION:
                    raise ImportRefused(f"{path}:1: export format {record['chaindb_export']}")
                continue
            if not isinstance(record, dict) or record.keys() != {"table", "row"}:
                raise ImportRefused(f'{path}:{number}: expected {{"table": …, "row": {{…}}}}')
            if only is None or record["table"] == only:
                yield SourceRow(record["table"], record["row"], name, number)


def _read_csv(path: Path, table: str) -> Iterator[SourceRow]:
    csv.field_size_limit(CSV_FIELD_CHARS_MAX)
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if header is None:
            return
        for values in reader:
            line = reader.line_num
            if len(values) != len(header):
                raise ImportRefused(
                    f"{path}:{line}: {len(values)} values for {len(header)} columns"
                )
            row = {n: None if v == CSV_NULL else v for n, v in zip(header, values, strict=True)}
            yield SourceRow(table, row, str(path), line)


# --- typing and checking ---------------------------------------------------------------------

Convert = Callable[[Any], Any]


def _typed(row: SourceRow, table: sa.Table, skip_validation: bool) -> SourceRow:
    readers = _readers(table)
    if not readers.keys() >= row.values.keys():
        extra = sorted(row.values.keys() - readers.keys())[0]
        raise ImportRefused(f"{row.file}:{row.line}: {table.name} has no column {extra!r}")
    try:
        typed = {
            name: None if value is None else readers[name](value)
            for name, value in row.values.items()
        }
    except _UNREADABLE:
        raise _unreadable(row, table, readers) from None
    if not skip_validation:
        _validate(row, table, typed)
    return SourceRow(row.table, typed, row.file, row.line)


_UNREADABLE = (InvalidInput, ValueError, TypeError, InvalidOperation, KeyError)


def _unreadable(row: SourceRow, table: sa.Table, readers: dict[str, Convert]) -> ImportRefused:
    """The row's first value its column's reader refused, named (read again, one by one)."""
    for name, value in row.values.items():
        if value is None:
            continue
        try:
            readers[name](value)
        except _UNREADABLE as error:
            rule = error.rule if isinstance(error, InvalidInput) else str(error) or "invalid"
            shown = str(value)[:VALUE_SHOWN_CHARS]
            where = f"{row.file}:{row.line}: {table.name}.{name}"
            return ImportRefused(f"{where}: {shown!r} is invalid: {rule}")
    return ImportRefused(f"{row.file}:{row.line}: {table.name}: a value is invalid")


def _validate(row: SourceRow, table: sa.Table, typed: dict[str, Any]) -> None:
    """The table's insert model (chaindb.models) checks the row: required columns, addresses
    and hashes, lengths, the values a CHECK lists. The database backs the rest."""
    try:
        models_for(table.name).insert.model_validate(typed)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        column = ".".join(str(part) for part in first["loc"][:1]) or "row"
        shown = str(typed.get(column, ""))[:VALUE_SHOWN_CHARS]
        raise ImportRefused(
            f"{row.file}:{row.line}: {table.name}.{column}: {shown!r} is invalid: {first['msg']}"
        ) from None


@functools.cache
def _readers(table: sa.Table) -> dict[str, Convert]:
    """Per column, once per table: what reads an exported value into the column's type."""
    return {column.name: _reader(column.type) for column in table.columns}


def _reader(kind: sa.types.TypeEngine[Any]) -> Convert:
    if isinstance(kind, AmountType):
        return _amount
    python_type = _python_type(kind)
    return {
        bool: _boolean,
        int: _integer,
        float: float,
        datetime: _timestamp,
        date: lambda value: date.fromisoformat(value) if isinstance(value, str) else value,
        Decimal: lambda value: Decimal(str(value)),
        bytes: lambda value: bytes.fromhex(str(value).removeprefix("0x")),
        dict: lambda value: json.loads(value) if isinstance(value, str) else value,
    }.get(python_type, _as_is)  # type: ignore[arg-type]


def _amount(value: Any) -> int:
    amount = (
        value if isinstance(value, int) and not isinstance(value, bool) else int(_digits(value))
    )
    if not 0 <= amount <= UINT256_MAX:
        raise ValueError("must be an amount between 0 and 2**256 - 1")
    return amount


def _boolean(value: Any) -> bool:
    return value if isinstance(value, bool) else {"true": True, "false": False}[str(value)]


def _integer(value: Any) -> int:
    if type(value) is int:  # not a bool, an int's subclass
        return value
    return int(_digits(value, signed=True))


def _timestamp(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(moment, datetime) and moment.tzinfo is UTC:  # as exported: nothing to convert
        return moment
    return parse_utc(moment)


def _as_is(value: Any) -> Any:
    return value


def _digits(value: Any, *, signed: bool = False) -> str:
    text = str(value)
    body = text[1:] if signed and text.startswith("-") else text
    if not body.isascii() or not body.isdigit():
        raise ValueError("must be a whole number written in digits")
    return text


def _python_type(kind: sa.types.TypeEngine[Any]) -> type | None:
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, sa.JSON):
        return dict
    try:
        return kind.python_type
    except NotImplementedError:
        return None


# --- writing ---------------------------------------------------------------------------------


def _write(
    conn: Connection,
    writer: BatchWriter,
    rows: list[SourceRow],
    report: ImportReport,
    say: Progress,
    *,
    skip_taken: bool,
) -> None:
    counted = len(rows)
    if skip_taken:
        rows = _untaken(conn, writer.table, rows)
    try:
        if rows:
            writer.write(conn, [row.values for row in rows])
    except RowRefused as refused:
        row = rows[refused.index]
        where = f"{row.file}:{row.line}: {row.table}"
        raise ImportRefused(f"{where}: {refused.reason}; nothing was written") from None
    name = writer.table.name
    report.rows[name] = report.rows.get(name, 0) + counted
    say(name, report.rows[name])


def _untaken(conn: Connection, table: sa.Table, rows: list[SourceRow]) -> list[SourceRow]:
    """PostgreSQL: a partitioned table's keys unique across partitions live in its key table
    (ops/partitions_keys.py), where ON CONFLICT DO NOTHING does not look: rows whose key is
    taken there are skipped here, as they would be on a plain table."""
    if conn.dialect.name != "postgresql":
        return rows
    taken = partitions_keys.taken(conn, table.name, [row.values for row in rows])
    return [row for row, is_taken in zip(rows, taken, strict=True) if not is_taken]


def _move_sequences(conn: Connection, tables: list[sa.Table]) -> None:
    """PostgreSQL: an id sequence must pass the largest imported id, or the next insert fails."""
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence(:table, :column), "
                f"coalesce((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"
            ),
            {"table": table.name, "column": column.name},
        )
