"""Where push finds the application's declaration, and which tables are chaindb's own."""

from __future__ import annotations

import importlib
import os
import sys

import sqlalchemy as sa

from chaindb.errors import InvalidInput
from chaindb.migrations import bookkeeping
from chaindb.migrations.modules import BUILTIN_MODULES

SCHEMA_SETTING = "CHAINDB_PUSH_SCHEMA"
_SPEC_RULE = "must read package.module:attribute, e.g. myapp.schema:metadata"


def declaration(
    metadata: sa.MetaData | str | None, setting: str | None = None
) -> tuple[sa.MetaData, str]:
    """The declared MetaData and how to name it: given, imported, or from the setting."""
    if isinstance(metadata, sa.MetaData):
        return _checked(metadata, "metadata", "<MetaData>"), "<MetaData>"
    if metadata is not None:
        return _checked(load_declaration(metadata), "schema", metadata), metadata
    if not setting:
        raise InvalidInput(
            "schema",
            None,
            f"name your tables' MetaData: --schema package.module:metadata or {SCHEMA_SETTING}",
        )
    declared = load_declaration(setting, field=SCHEMA_SETTING)
    return _checked(declared, SCHEMA_SETTING, setting), setting


def load_declaration(spec: str, *, field: str = "schema") -> sa.MetaData:
    """Import 'package.module:attribute': a MetaData, or a declarative base (its .metadata).
    The working directory is importable, as for `python -m`."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name.strip() or not attribute.strip():
        raise InvalidInput(field, spec, _SPEC_RULE)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # an application's module may fail in any way while importing
        raise InvalidInput(
            field, spec, f"module {module_name} cannot be imported: {type(error).__name__}: {error}"
        ) from None
    value = getattr(module, attribute, None)
    value = getattr(value, "metadata", value) if not isinstance(value, sa.MetaData) else value
    if not isinstance(value, sa.MetaData):
        found = "nothing" if value is None else f"a {type(value).__name__}"
        raise InvalidInput(
            field,
            spec,
            f"must name a SQLAlchemy MetaData (or a declarative base); {attribute} is {found}",
        )
    return value


def _checked(metadata: sa.MetaData, field: str, name: str) -> sa.MetaData:
    if not metadata.tables:
        raise InvalidInput(field, name, "declares no tables (a push would drop every pushed one)")
    if other := [table.fullname for table in metadata.tables.values() if table.schema]:
        raise InvalidInput(field, name, f"push manages the default schema only, not {other[0]}")
    return metadata


def chaindb_tables() -> dict[str, str]:
    """Every table and view name chaindb owns, with its owner."""
    owners = {name: "chaindb's migration bookkeeping" for name in bookkeeping.metadata.tables}
    for module in BUILTIN_MODULES:
        schema = importlib.import_module(f"chaindb.{module}.schema")
        for value in vars(schema).values():
            if isinstance(value, sa.Table):  # a table imported from another module is its
                owners.setdefault(value.name, f"chaindb's module {module}")
    return owners
