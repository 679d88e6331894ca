"""How a value reads in the browser: amounts with every digit, addresses as chaindb shows them,
hashes and foreign keys as links. Templates get Cells and never format a value themselves."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from chaindb.studio.browse import encode_key, find_table
from chaindb.types import AmountType, TxHashType

CELL_CHARS_MAX = 120  # in a list; a row's own page shows the whole value


@dataclass(frozen=True)
class Cell:
    text: str
    kind: str = "text"  # amount, number, null, bool, time, json, text: the CSS class
    href: str | None = None
    full: str | None = None  # the whole value when `text` was cut short
    note: str | None = None  # an amount in its asset's units (1.5 ETH), beside the base units


def cell(column: sa.Column[Any], value: Any, *, short: bool = True) -> Cell:
    """A column's value, typed by the table's select model, as the page shows it."""
    if value is None:
        return Cell("NULL", "null")
    text, kind = _text(value, column)
    href = _link(column, value)
    if short and len(text) > CELL_CHARS_MAX:
        return Cell(text[: CELL_CHARS_MAX - 1] + "…", kind, href, text)
    return Cell(text, kind, href)


def _text(value: Any, column: sa.Column[Any]) -> tuple[str, str]:
    if isinstance(column.type, AmountType) or (isinstance(value, int) and value >= 2**53):
        return str(value), "amount"  # as a string: JavaScript would round it past 2**53
    if isinstance(value, bool):
        return ("true" if value else "false"), "bool"
    if isinstance(value, int | float | Decimal):
        return str(value), "number"
    if isinstance(value, datetime):
        return value.isoformat(sep=" "), "time"
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex(), "text"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, separators=(", ", ": ")), "json"
    return str(value), "text"


def _link(column: sa.Column[Any], value: Any) -> str | None:
    """A foreign key links to the row it names; a transaction hash to its transaction."""
    for fk in column.foreign_keys:
        table, target = fk.target_fullname.rsplit(".", 1)
        key = [column.name for column in find_table(table).primary_key.columns]
        return row_url(table, [value]) if key == [target] else filtered_url(table, {target: value})
    if isinstance(column.type, TxHashType):  # its life on the Chain page
        return f"/chain/tx?{urlencode({'hash': value})}"
    return None


def filtered_url(table: str, filters: dict[str, Any]) -> str:
    query = urlencode({name: _query_text(value) for name, value in filters.items()})
    return f"/tables/{table}?{query}"


def row_url(table: str, key: list[Any]) -> str:
    return f"/tables/{table}/row?{urlencode({'key': encode_key(key)})}"


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    return str(value)


def scaled(amount: int, decimals: int) -> str:
    """Base units as whole units of an asset with `decimals` (1500000000000000000, 18 -> 1.5),
    exact: never through a float."""
    if decimals == 0:
        return f"{amount:,}"
    whole, fraction = divmod(amount, 10**decimals)
    digits = str(fraction).zfill(decimals).rstrip("0")
    return f"{whole:,}.{digits}" if digits else f"{whole:,}"
