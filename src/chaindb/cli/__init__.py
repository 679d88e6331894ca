"""The `chaindb` command. Each command parses its options and calls one public function."""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import SQLAlchemyError

from chaindb.cli import chain, challenges, health, maintenance, migrate
from chaindb.cli.output import error_console, masked_text
from chaindb.errors import ChaindbError

app = typer.Typer(
    name="chaindb",
    help="The off-chain database of an on-chain application.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _options(
    ctx: typer.Context,
    url: str | None = typer.Option(
        None, "--url", help="Database URL (default: CHAINDB_URL, DATABASE_URL, DB_*, SQLite file)."
    ),
) -> None:
    ctx.obj = {"url": url}


migrate.register(app)
health.register(app)
maintenance.register(app)
challenges.register(app)
chain.register(app)


def main() -> None:
    """Entry point: chaindb errors become a one-line message and exit code 1."""
    try:
        app()
    except ChaindbError as error:
        error_console.print(f"error: {masked_text(str(error))}", markup=False)
        sys.exit(1)
    except SQLAlchemyError as error:
        detail = masked_text(str(getattr(error, "orig", None) or error))
        error_console.print(f"database error: {detail}", markup=False)
        sys.exit(1)
