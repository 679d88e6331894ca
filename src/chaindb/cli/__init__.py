"""The `chaindb` command. Each command parses its options and calls one public function."""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from typing import NoReturn

import click
import typer
from sqlalchemy.exc import SQLAlchemyError

from chaindb.cli import (
    assets,
    chain,
    challenges,
    creators,
    diagnose,
    games,
    health,
    ledger,
    maintenance,
    migrate,
    operations,
    partitions,
    push,
    query,
    schema,
    studio,
    tokens,
)
from chaindb.cli.output import error_console, masked_text
from chaindb.errors import ChaindbError

URL_HELP = "Database URL (default: CHAINDB_URL, DATABASE_URL, DB_*, ./chaindb.sqlite3)."

app = typer.Typer(
    name="chaindb",
    help="The off-chain database of an on-chain application.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        print(f"chaindb {version('chaindb')}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    url: str | None = typer.Option(None, "--url", metavar="URL", help=URL_HELP),
    _version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    ctx.obj = {"url": url}


migrate.register(app)
push.register(app)
health.register(app)
maintenance.register(app)
challenges.register(app)
chain.register(app)
games.register(app)
creators.register(app)
ledger.register(app)
query.register(app)
operations.register(app)
diagnose.register(app)
assets.register(app)
tokens.register(app)
schema.register(app)
studio.register(app)
partitions.register(app)


def _remember_url(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["url"] = value


def _accept_url_everywhere(group: click.Group) -> None:
    """`chaindb status --url URL` as well as `chaindb --url URL status`: users type both."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _accept_url_everywhere(command)
        elif not any(param.name == "url" for param in command.params):
            option = click.Option(
                ["--url"], metavar="URL", expose_value=False, callback=_remember_url, help=URL_HELP
            )
            command.params.append(option)


def command() -> click.Group:
    """The click group behind `chaindb` (what main runs; shell completion reads it too)."""
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    _accept_url_everywhere(group)
    return group


def main() -> None:
    """Entry point: chaindb and database errors become one line on stderr and exit code 1;
    with --json, stdout gets them as JSON too (a script reading stdout still parses it)."""
    try:
        command()(prog_name="chaindb")
    except ModuleNotFoundError as error:
        hint = chain.missing_chain_extra(error)  # the optional extra a command needs
        if hint is None:
            raise
        _fail("error", hint, "MissingExtra")
    except ChaindbError as error:
        _fail("error", masked_text(str(error)), type(error).__name__)
    except SQLAlchemyError as error:
        detail = masked_text(str(getattr(error, "orig", None) or error))
        _fail("database error", f"{detail}{_hint(detail)}", "DatabaseError")


def _hint(detail: str) -> str:
    """What a missing table usually means: the database is not migrated (for this module)."""
    missing = "no such table" in detail or ("relation" in detail and "does not exist" in detail)
    return " (is this database migrated? `chaindb status` shows what is pending)" if missing else ""


def _fail(label: str, message: str, kind: str) -> NoReturn:
    message = " ".join(message.split())  # one line: drivers' messages carry newlines and tabs
    error_console.print(f"{label}: {message}", markup=False, soft_wrap=True)
    if "--json" in sys.argv[1:]:
        # one line: a stream of JSON lines (watch --json) stays one
        print(json.dumps({"ok": False, "error": message, "error_type": kind}))
    sys.exit(1)
