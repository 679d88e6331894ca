"""chaindb query"""

from __future__ import annotations

import typer

from chaindb.cli.output import open_database, print_json
from chaindb.cli.rows import note, output_format, print_rows
from chaindb.cli.values import IdParam
from chaindb.query import QUERY_LIMIT_DEFAULT, QUERY_LIMIT_MAX, run_query


def register(app: typer.Typer) -> None:
    app.command()(query)


def query(
    ctx: typer.Context,
    sql: str = typer.Argument(..., metavar="SQL", help="One SQL statement."),
    limit: int = typer.Option(
        QUERY_LIMIT_DEFAULT,
        "--limit",
        click_type=IdParam(),
        help=f"Print at most this many rows (up to {QUERY_LIMIT_MAX:,}).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of objects."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV (a header line, then the rows)."),
) -> None:
    """Run one SQL statement in a read-only transaction (a write is refused and changes
    nothing); amounts print as exact integers."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx) as db:
        result = run_query(db, sql, limit=limit)
    if not result.columns:  # SHOW and EXPLAIN return rows; SET or a PRAGMA assignment none
        if fmt == "json":
            print_json([])
        note("the statement returns no rows")
        return
    print_rows(result.columns, result.rows, fmt)
    if result.more:
        note(f"more rows: showing the first {limit} (--limit N shows more)")
