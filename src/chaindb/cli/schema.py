"""chaindb schema json TABLE: a table's insert (or select) model as JSON Schema."""

from __future__ import annotations

import typer

from chaindb.cli.output import print_json
from chaindb.models import json_schema

schema_app = typer.Typer(
    help="Insert and select models derived from chaindb's tables, as JSON Schema.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app, name="schema")


@schema_app.command("json")
def json_command(
    table: str = typer.Argument(..., metavar="TABLE", help="A chaindb table, e.g. tokens."),
    select: bool = typer.Option(
        False, "--select", help="The select model (every column) instead of the insert model."
    ),
) -> None:
    """Print the JSON Schema of TABLE's insert model (chaindb.models.json_schema)."""
    print_json(json_schema(table, "select" if select else "insert"))
