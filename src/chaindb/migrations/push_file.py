"""`chaindb push --to-migration NAME`: the plan a push would apply, written instead as the next
migration of the application's module (from prototyping to versioned migrations, as
drizzle-kit generate follows drizzle-kit push). The file is Alembic's autogenerate rendering,
in batch mode so that it runs on SQLite as on PostgreSQL, with its downgrade.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import render_python_code
from alembic.operations import ops
from sqlalchemy.dialects import postgresql

from chaindb.database import Database
from chaindb.errors import InvalidInput, MigrationError
from chaindb.migrations.create import create
from chaindb.migrations.modules import BUILTIN_MODULES, RevisionGraph
from chaindb.migrations.push import PushPlan, plan_operations


def push_to_migration(
    db: Database,
    *,
    name: str,
    metadata: sa.MetaData | str | None = None,
    module: str | None = None,
) -> PushPlan:
    """Write the plan as `<module>_<NNNN>_<name>.py` (default module: the application's only
    one in CHAINDB_MODULE_PATHS); the database is not changed. `chaindb migrate` applies it."""
    module = module or _only_application_module()
    plan, script = plan_operations(db, metadata)
    if not plan.changes:
        raise MigrationError("nothing to write: the database already matches the declaration")
    imports: set[str] = set()
    upgrades = _code(script.upgrade_ops, imports)
    downgrades = _code(script.downgrade_ops, imports)
    created = create(
        name, module, upgrades=upgrades, downgrades=downgrades, imports="\n".join(sorted(imports))
    )
    plan.migration = created.path
    return plan


def _only_application_module() -> str:
    mine = [name for name in RevisionGraph.load().modules if name not in BUILTIN_MODULES]
    if len(mine) != 1:
        found = ", ".join(mine) if mine else "none is listed in CHAINDB_MODULE_PATHS"
        raise InvalidInput("module", None, f"name the module to write the migration to ({found})")
    return mine[0]


def _code(operations: ops.UpgradeOps | ops.DowngradeOps, imports: set[str]) -> str:
    """Python for `operations`, remembering the imports its types need (Alembic names a type
    of another package, such as chaindb.types.AmountType, without importing it)."""

    def note_import(kind: str, value: Any, context: Any) -> str | bool:
        imports.update(context.imports)
        module = type(value).__module__
        if kind == "type" and not module.startswith("sqlalchemy"):
            imports.add(f"import {module}")
        if kind == "server_default":
            return _function_default(value)
        return False  # Alembic renders it as usual

    code = render_python_code(operations, render_as_batch=True, render_item=note_import)
    for op in _type_changes(operations):
        code = _with_cast(code, op)
    return code.strip()


def _function_default(default: Any) -> str | bool:
    """`server_default=sa.func.now()` stays a function, which each dialect spells its way
    (SQLite: CURRENT_TIMESTAMP); Alembic would write PostgreSQL's `now()` as text."""
    argument = getattr(default, "arg", None)
    if isinstance(argument, sa.sql.functions.FunctionElement) and not argument.clauses.clauses:
        return f"sa.func.{argument.name}()"
    return False


def _type_changes(operations: ops.UpgradeOps | ops.DowngradeOps) -> list[ops.AlterColumnOp]:
    return [
        sub
        for op in operations.ops
        if isinstance(op, ops.ModifyTableOps)
        for sub in op.ops
        if isinstance(sub, ops.AlterColumnOp) and sub.modify_type is not None
    ]


def _with_cast(code: str, op: ops.AlterColumnOp) -> str:
    """PostgreSQL changes text to integer only with `USING col::type`, which Alembic's
    rendering leaves out: add it to that alter_column call (SQLite ignores it)."""
    new_type = op.modify_type.compile(dialect=postgresql.dialect())
    using = f"{op.column_name}::{new_type}"
    lines = code.split("\n")
    start = next(i for i, line in enumerate(lines) if f"alter_column({op.column_name!r}" in line)
    end = next(i for i in range(start, len(lines)) if not lines[i].rstrip().endswith(","))
    lines[end] = lines[end].rstrip()[:-1] + f", postgresql_using={using!r})"
    return "\n".join(lines)
