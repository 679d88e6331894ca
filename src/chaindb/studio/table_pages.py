"""Tables: every module's tables, a table's rows (filter, sort, keyset pages) and a row with
its foreign keys followed both ways."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chaindb.errors import InvalidInput
from chaindb.studio import browse
from chaindb.studio.app import render, studio_of
from chaindb.studio.display import cell, filtered_url, row_url

RESERVED = frozenset({"_sort", "_desc", "_after", "_size", "_column", "_value", "token"})


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
    state = {
        **{name: text for name, (text, _value) in filters.items()},
        **({"_sort": sort} if sort else {}),
        **({"_desc": "1"} if descending else {}),
        **({"_size": params["_size"]} if params.get("_size") else {}),
    }
    return render(request, "table.html", _rows_context(page, state, bool(after)))


def _add_filter(table: sa.Table, params: Any) -> Response:
    kept = [(n, v) for n, v in params.multi_items() if n not in {"_column", "_value", "_after"}]
    kept = [(n, v) for n, v in kept if n != params["_column"]]
    query = urlencode([*kept, (params["_column"], params.get("_value", ""))])
    return RedirectResponse(f"/tables/{table.name}?{query}", status_code=303)


def _filters(table: sa.Table, params: Any) -> dict[str, tuple[str, Any]]:
    """`?column=value` for each filtered column: the text typed, and its typed value."""
    found = {}
    for name, text in params.multi_items():
        if name in RESERVED:
            continue
        if name not in table.c:
            raise InvalidInput(name, text, f"is not a column of {table.name} to filter on")
        found[name] = (text, browse.parse_value(table.c[name], text))
    return found


def _size(text: str | None) -> int:
    if not text:
        return browse.PAGE_SIZE_DEFAULT
    if not text.isdigit() or not 1 <= int(text) <= browse.PAGE_SIZE_MAX:
        raise InvalidInput(
            "_size", text, f"must be a whole number from 1 to {browse.PAGE_SIZE_MAX}"
        )
    return int(text)


def _rows_context(page: browse.TablePage, state: dict[str, str], paged: bool) -> dict[str, Any]:
    table = page.table
    columns = list(table.columns)
    rows = [
        {
            "href": row_url(table.name, key),
            "cells": [cell(column, row.get(column.name)) for column in columns],
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
        "filters": {name: text for name, text in state.items() if not name.startswith("_")},
        "state": state,
        "next_url": next_url,
        "first_url": f"{base}?{urlencode(state)}" if paged else None,
    }


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
    }
    return render(request, "row.html", context)
