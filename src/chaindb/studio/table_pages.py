"""Tables: every module's tables, a table's rows (filter, sort, keyset pages) and a row with
its foreign keys followed both ways."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chaindb import ledger
from chaindb.errors import InvalidInput
from chaindb.studio import browse
from chaindb.studio.app import render, studio_of
from chaindb.studio.display import Cell, cell, filtered_url, row_url, scaled
from chaindb.types import AmountType

ASSET_COLUMN = "asset_id"
_assets = ledger.metadata.tables["ledger_assets"]
RESERVED = frozenset({"_sort", "_desc", "_after", "_size", "_column", "_op", "_value", "token"})


def routes() -> list[Route]:
    return [
        Route("/tables", tables_index),
        Route("/tables/{name}", table_rows),
        Route("/tables/{name}/row", table_row),
    ]


def tables_index(request: Request) -> Response:
    return render(request, "tables.html", {"title": "Tables", "modules": browse.modules_tables()})


def table_rows(request: Request) -> Response:
    table = browse.find_table(request.path_params["name"])
    params = request.query_params
    if "_column" in params:  # the filter form: one more column = value, then a plain URL
        return _add_filter(table, params)
    filters = _filters(table, params)
    sort = params.get("_sort") or None
    if sort is not None and sort not in table.c:
        raise InvalidInput("_sort", sort, f"must be a column of {table.name}")
    descending = params.get("_desc") == "1"
    after = browse.decode_key(params["_after"], table) if params.get("_after") else None
    with studio_of(request).reading() as conn:
        page = browse.read_page(
            conn,
            table,
            filters={name: value for name, (_text, value) in filters.items()},
            sort=sort,
            descending=descending,
            after=after,
            size=_size(params.get("_size")),
        )
        units = asset_units(conn, table, page.rows)
    state = {
        **{name: text for name, (text, _value) in filters.items()},
        **({"_sort": sort} if sort else {}),
        **({"_desc": "1"} if descending else {}),
        **({"_size": params["_size"]} if params.get("_size") else {}),
    }
    return render(request, "table.html", _rows_context(page, state, bool(after), units))


def _add_filter(table: sa.Table, params: Any) -> Response:
    op = params.get("_op") or "exact"
    if op not in browse.OPERATORS:
        raise InvalidInput("_op", op, f"must be one of {', '.join(browse.OPERATORS)}")
    name = params["_column"] if op == "exact" else f"{params['_column']}__{op}"
    form = {"_column", "_op", "_value", "_after"}
    kept = [(n, v) for n, v in params.multi_items() if n not in form and n != name]
    query = urlencode([*kept, (name, params.get("_value", ""))])
    return RedirectResponse(f"/tables/{table.name}?{query}", status_code=303)


def _filters(table: sa.Table, params: Any) -> dict[str, tuple[str, Any]]:
    """`?column=value` or `?column__op=value` for each filter: the text typed, and its typed
    value."""
    found = {}
    for name, text in params.multi_items():
        if name in RESERVED:
            continue
        column, op = browse.split_filter(name)
        if column not in table.c or op not in browse.OPERATORS:
            raise InvalidInput(name, text, f"is not a column of {table.name} to filter on")
        found[name] = (text, browse.parse_value(table.c[column], text))
    return found


def _size(text: str | None) -> int:
    if not text:
        return browse.PAGE_SIZE_DEFAULT
    if not text.isdigit() or not 1 <= int(text) <= browse.PAGE_SIZE_MAX:
        raise InvalidInput(
            "_size", text, f"must be a whole number from 1 to {browse.PAGE_SIZE_MAX}"
        )
    return int(text)


def _rows_context(
    page: browse.TablePage, state: dict[str, str], paged: bool, units: dict[int, Any]
) -> dict[str, Any]:
    table = page.table
    columns = list(table.columns)
    rows = [
        {
            "href": row_url(table.name, key),
            "cells": [_cell(column, row, units) for column in columns],
        }
        for row, key in zip(page.rows, page.keys, strict=True)
    ]
    base = f"/tables/{table.name}"
    next_url = None
    if page.next_after is not None:
        next_url = f"{base}?{urlencode({**state, '_after': browse.encode_key(page.next_after)})}"
    return {
        "title": table.name,
        "table": table,
        "columns": [_column_head(column, base, state) for column in columns],
        "rows": rows,
        "filters": [_chip(name, text) for name, text in state.items() if not name.startswith("_")],
        "operators": [(op, sign) for op, (sign, _compare) in browse.OPERATORS.items()],
        "state": state,
        "next_url": next_url,
        "first_url": f"{base}?{urlencode(state)}" if paged else None,
    }


def asset_units(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> dict[int, Any]:
    """The ledger assets (decimals, symbol) of a page's rows, by id, when the table's amounts
    are in the units of the asset its `asset_id` names (ledger_transfers, ledger_accounts,
    escrow records, tokens...). Empty for any other table: its amounts are shown bare."""
    column = table.c.get(ASSET_COLUMN)
    has_amounts = any(isinstance(c.type, AmountType) for c in table.columns)
    if column is None or not has_amounts or not _names_ledger_asset(column):
        return {}
    ids = {row[ASSET_COLUMN] for row in rows if row.get(ASSET_COLUMN) is not None}
    if not ids:
        return {}
    found = conn.execute(sa.select(_assets).where(_assets.c.id.in_(ids)))
    return {asset.id: asset for asset in found}


def _names_ledger_asset(column: sa.Column[Any]) -> bool:
    return any(fk.target_fullname == "ledger_assets.id" for fk in column.foreign_keys)


def _cell(column: sa.Column[Any], row: dict[str, Any], units: dict[int, Any]) -> Cell:
    """A cell; an amount of a ledger asset with decimals also reads in whole units."""
    shown = cell(column, row.get(column.name))
    asset = units.get(row.get(ASSET_COLUMN)) if units else None
    value = row.get(column.name)
    if asset is None or not asset.decimals or not isinstance(column.type, AmountType):
        return shown
    if value is None:
        return shown
    return replace(shown, note=f"{scaled(value, asset.decimals)} {asset.symbol}")


def _chip(name: str, text: str) -> str:
    column, op = browse.split_filter(name)
    return f"{column} {browse.OPERATORS[op][0]} {text}"


def _column_head(column: sa.Column[Any], base: str, state: dict[str, str]) -> dict[str, Any]:
    """A column's header: its name and type, and the link that sorts by it (again: reversed)."""
    sorted_here = state.get("_sort") == column.name
    sort_state = {name: value for name, value in state.items() if name not in {"_sort", "_desc"}}
    sort_state["_sort"] = column.name
    if sorted_here and "_desc" not in state:
        sort_state["_desc"] = "1"
    arrow = ("▼" if "_desc" in state else "▲") if sorted_here else ""
    return {
        "name": column.name,
        "type": _type_name(column),
        "sort_url": f"{base}?{urlencode(sort_state)}",
        "arrow": arrow,
        "key": column.primary_key,
        "indexed": column.name in browse.indexed_columns(column.table),
    }


def _type_name(column: sa.Column[Any]) -> str:
    kind = type(column.type).__name__.removesuffix("Type")
    return {"AmountType": "uint256"}.get(type(column.type).__name__, kind.lower())


def table_row(request: Request) -> Response:
    table = browse.find_table(request.path_params["name"])
    key = browse.decode_key(request.query_params.get("key", ""), table)
    with studio_of(request).reading() as conn:
        view = browse.read_row(conn, table, key)
    fields = [
        {
            "name": column.name,
            "type": _type_name(column),
            "cell": cell(column, view.row.get(column.name), short=False),
        }
        for column in table.columns
    ]
    incoming = [
        {
            "label": f"{ref.table}.{ref.column}",
            "href": filtered_url(ref.table, {ref.column: ref.value}),
            "rows": f"{ref.rows}"
            if ref.rows <= browse.REFERENCES_COUNTED_MAX
            else f"{browse.REFERENCES_COUNTED_MAX}+",
        }
        for ref in view.incoming
    ]
    outgoing = [
        {
            "label": f"{ref.column} → {ref.table}.{ref.target_column}",
            "href": filtered_url(ref.table, {ref.target_column: ref.value}),
        }
        for ref in view.outgoing
    ]
    context = {
        "title": f"{table.name} row",
        "table": table,
        "fields": fields,
        "incoming": incoming,
        "outgoing": outgoing,
        "row": view.row,
    }
    return render(request, "row.html", context)
