"""The story `make demo` tells: each module's part in turn, on the configured database.

A module takes part by offering `story(db, console)` on its face; the stories run in the
modules' order (core, ledger, challenges, chain, then the seed modules). Adding a module's
story never changes this file.
"""

from __future__ import annotations

import importlib

from rich.console import Console

from chaindb.database import Database
from chaindb.migrations import BUILTIN_MODULES


def run_demo(db: Database, console: Console) -> None:
    """Run every module's story, in order, on `db` (migrated to head by the caller)."""
    for name in BUILTIN_MODULES:
        face = importlib.import_module(f"chaindb.{name}")
        if hasattr(face, "story"):
            face.story(db, console)
