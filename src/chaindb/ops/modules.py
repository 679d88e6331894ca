"""The modules a database uses, and their faces: where ops/ finds each module's hooks.

A module's face (its package `__init__`) may offer, by these names:
- `verify(db) -> list[str]`: the problems `maintenance --check` reports (empty when healthy);
- `repair(db) -> list[str]`: mend what verify finds that can be mended, saying what it did;
- `cleanup(db) -> list[str]`: retention work (`maintenance --cleanup`), saying what it did.
Every hook is optional. ops/ never names a module: a new one is found here by its hooks.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from chaindb import migrations
from chaindb.database import Database

PACKAGE = "chaindb"


def installed_faces(db: Database) -> list[tuple[str, ModuleType]]:
    """(name, face) of each of chaindb's own modules that has migrations applied in `db`, in
    dependency order. Application modules (CHAINDB_MODULE_PATHS) are migrations only."""
    faces = []
    for module in migrations.status(db).modules:
        if module.current is not None and module.name in migrations.BUILTIN_MODULES:
            faces.append((module.name, importlib.import_module(f"{PACKAGE}.{module.name}")))
    return faces
