"""Rows out of the commands that read data (ledger, query): a table, CSV or JSON.

Amounts are Python ints and are printed with every digit: never a float, never the padded text
SQLite stores. A table that goes to a pipe or file is as wide as its widest value (nothing is cut
off or wrapped); at a terminal, long values wrap within their cell.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chaindb.cli.output import error_console, json_value, print_json
from chaindb.errors import ChaindbError

Format = Literal["table", "json", "csv"]
# A table sent to a pipe is not wrapped to a terminal; this bounds the width rich lays out.
PIPED_TABLE_WIDTH_MAX = 100_000


def output_format(as_json: bool, as_csv: bool) -> Format:
    if as_json and as_csv:
        raise ChaindbError("--json and --csv cannot be combined: choose one")
    return "json" if as_json else "csv" if as_csv else "table"


def print_rows(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: Format,
    *,
    title: str | None = None,
) -> None:
    """Rows as a table, CSV (a header line, then the rows) or a JSON array of objects."""
    if fmt == "json":
        print_json([dict(zip(columns, row, strict=True)) for row in rows])
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[csv_text(value) for value in row] for row in rows])
    else:
        table = Table(title=title, title_justify="left")
        for index, name in enumerate(columns):
            values = [row[index] for row in rows if row[index] is not None]
            numbers = bool(values) and all(type(value) is int for value in values)
            table.add_column(Text(name), overflow="fold", justify="right" if numbers else "left")
        for row in rows:
            table.add_row(*[Text(cell_text(value)) for value in row])
        _table_console().print(table)


def print_record(record: Mapping[str, Any], fmt: Format) -> None:
    """One row: as JSON an object, as CSV a header and a line, as a table one field a line."""
    if fmt == "json":
        print_json(dict(record))
    elif fmt == "csv":
        print_rows(list(record), [list(record.values())], "csv")
    else:
        table = Table("field", "value", show_header=False)
        table.columns[1].overflow = "fold"
        for name, value in record.items():
            table.add_row(Text(name), Text(cell_text(value)))
        _table_console().print(table)


def note(text: str) -> None:
    """A remark about the output (more rows exist, the next page) on stderr, so that the data
    on stdout stays exactly the table, CSV or JSON."""
    error_console.print(text, markup=False)


def csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, default=json_value)
    if isinstance(value, int | str | Decimal):
        return str(value)
    return str(json_value(value))


def cell_text(value: object) -> str:
    return "null" if value is None else csv_text(value)


def _table_console() -> Console:
    width = None if sys.stdout.isatty() else PIPED_TABLE_WIDTH_MAX
    return Console(highlight=False, width=width)
