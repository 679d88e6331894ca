"""chaindb studio: the database in a browser."""

from __future__ import annotations

import os

import typer

from chaindb.cli.output import error_console, open_database
from chaindb.errors import ChaindbError

INSTALL_HINT = "chaindb studio needs the studio extra: pip install 'chaindb[studio]'"
STUDIO_PACKAGES = frozenset({"starlette", "jinja2", "uvicorn", "multipart", "python_multipart"})


def register(app: typer.Typer) -> None:
    app.command("studio")(studio_command)


def studio_command(
    ctx: typer.Context,
    port: int = typer.Option(4983, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to bind. Anything but loopback needs CHAINDB_STUDIO_TOKEN.",
    ),
    write: bool = typer.Option(
        False, "--write", help="Allow edits (through chaindb's validated API). Default: read-only."
    ),
    time_limit_s: float = typer.Option(
        5.0,
        "--time-limit-s",
        min=0.001,
        help="How long one page may read before it is stopped (a sort no index serves).",
    ),
) -> None:
    """Serve a web app to look at the database: tables, ledger, migrations."""
    try:
        from chaindb import studio
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] in STUDIO_PACKAGES:
            raise ChaindbError(INSTALL_HINT) from None
        raise
    token = studio.required_token(host=host, token=_token())
    db = open_database(ctx)
    mode = "read-write" if write else "read-only"
    address = f"[{host}]" if ":" in host else host
    error_console.print(
        f"chaindb studio on http://{address}:{port} ({mode}): {db.display_url}", markup=False
    )
    studio.serve(db, host=host, port=port, write=write, token=token, time_limit_s=time_limit_s)


def _token() -> str | None:
    return os.environ.get("CHAINDB_STUDIO_TOKEN") or None
