"""What every command shares: opening the database, JSON output, confirmations."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import typer
from rich.console import Console

import chaindb
from chaindb.config import mask_text, secrets_of
from chaindb.database import sqlite_path
from chaindb.errors import ConfigError, ConfirmationRequired

# Piped output (make demo, CI logs) gets room for the status tables instead of rich's 80 columns.
_WIDTH = None if sys.stdout.isatty() else 140
console = Console(highlight=False, soft_wrap=True, width=_WIDTH)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)
_passwords: list[str] = []


def open_database(
    ctx: typer.Context, *, writes: bool = False, must_exist: bool = True
) -> chaindb.Database:
    """The database the command works on. A SQLite file that is not there is refused unless
    the command creates it (migrate, demo) or reports its absence itself (health): connecting
    would create an empty one. A command that `writes` first says on stderr which database it
    writes to (password masked), so that a misspelt variable is seen before anything changes."""
    db = chaindb.connect((ctx.obj or {}).get("url"))
    _passwords.extend(secrets_of(db.url))
    if db.backend == "sqlite" and sqlite_path(db.url) is None:
        raise ConfigError(
            "database URL: an in-memory SQLite database (sqlite://, :memory:) is gone when the "
            "command ends: give a file (sqlite:///path/to/file.sqlite3)"
        )
    if must_exist:
        db.require_exists()
    if writes:
        error_console.print(f"database: {db.display_url}", markup=False)
    return db


def masked_text(text: str) -> str:
    """Text with every password of a database this process opened replaced by ***."""
    for password in _passwords:
        text = mask_text(text, password)
    return mask_text(text)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=json_value))


def json_value(value: object) -> object:
    """What json cannot write itself. (ints are written exactly, however large.)"""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    return str(value)  # Decimal with a fraction: its exact text; UUID, date, time


def confirm_or_refuse(question: str, force: bool) -> None:
    """Ask at a terminal; with no terminal and no --force, refuse rather than guess."""
    if force:
        return
    if not sys.stdin.isatty():
        raise ConfirmationRequired(f"{question} Refusing without a terminal: pass --force.")
    if not typer.confirm(question, default=False):
        raise ConfirmationRequired("cancelled: nothing was changed")
