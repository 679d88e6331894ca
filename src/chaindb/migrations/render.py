"""A migration's SQL without running it: for --dry-run and for lint."""

from __future__ import annotations

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import Script

from chaindb.errors import MigrationError


class StatementBuffer:
    """Alembic writes each statement with one write() call; keep them apart."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def write(self, text: str) -> None:
        statement = text.strip()
        if statement:
            self.statements.append(statement)

    def flush(self) -> None:
        pass


def render_statements(script: Script, dialect_name: str, direction: str = "upgrade") -> list[str]:
    """The SQL statements `script` would run on `dialect_name`, each ending in ';'."""
    buffer = StatementBuffer()
    context = MigrationContext.configure(
        dialect_name=dialect_name,
        opts={"as_sql": True, "output_buffer": buffer, "literal_binds": True},
    )
    step = script.module.upgrade if direction == "upgrade" else script.module.downgrade
    try:
        with Operations.context(context):
            step()
    except Exception as error:
        raise MigrationError(
            f"{script.revision}: cannot render {direction} SQL offline: {error}"
        ) from error
    return buffer.statements
