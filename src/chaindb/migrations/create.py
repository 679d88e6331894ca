"""Write a new, empty migration version for an application's module, numbered after its head.

chaindb's own modules (core, ledger, ...) ship their migrations with chaindb: a file added
there would be lost at the next upgrade and clash with chaindb's next version of it. An
application keeps its migrations in a module of its own, listed in CHAINDB_MODULE_PATHS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from chaindb.errors import InvalidInput, MigrationError
from chaindb.migrations.modules import BUILTIN_MODULES, RevisionGraph, split_revision_id

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,60}$")
_OWN_MODULE_HINT = (
    "list your application's module in CHAINDB_MODULE_PATHS as name=directory "
    "(e.g. CHAINDB_MODULE_PATHS=app=./migrations), then chaindb create NAME --module app"
)


@dataclass
class CreatedMigration:
    revision: str
    module: str
    path: str
    down_revision: str | None
    depends_on: list[str]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def create(
    name: str,
    module: str,
    *,
    depends_on: Iterable[str] | None = None,
    upgrades: str | None = None,
    downgrades: str | None = None,
    imports: str | None = None,
) -> CreatedMigration:
    """Create `<module>_<NNNN>_<slug>.py` in the module's folder.

    `depends_on`: revisions of other modules this migration needs. By default a module's first
    migration depends on core's head (the users, wallets and transactions it builds on).
    `upgrades`, `downgrades`, `imports`: the bodies and extra imports (push --to-migration's
    plan); by default empty functions to fill in.
    """
    if not _NAME.match(name):
        raise InvalidInput("name", name, "letters, digits, spaces, _ or -, at most 61 characters")
    if module in BUILTIN_MODULES:
        raise MigrationError(
            f"module {module!r} is chaindb's own: its migrations ship with chaindb; "
            + _OWN_MODULE_HINT
        )
    graph = RevisionGraph.load()
    if module not in graph.modules:
        raise MigrationError(f"module {module!r} is unknown: {_OWN_MODULE_HINT}")
    head = graph.head(module)
    needs = _dependencies(graph, module, depends_on, first=head is None)
    number = split_revision_id(head)[1] + 1 if head else 1
    script = graph.script.generate_revision(
        f"{module}_{number:04d}",
        name,
        head=head or "base",
        branch_labels=None if head else (module,),
        version_path=str(graph.modules[module].versions_dir),
        depends_on=needs or None,
        upgrades=upgrades,
        downgrades=downgrades,
        imports=imports,
    )
    assert script is not None
    return CreatedMigration(script.revision, module, str(script.path), head, needs)


def _dependencies(
    graph: RevisionGraph, module: str, chosen: Iterable[str] | None, *, first: bool
) -> list[str]:
    if chosen is None:
        core_head = graph.head("core")
        return [core_head] if first and core_head else []
    needs = [graph.resolve(revision) for revision in chosen]
    if own := [revision for revision in needs if graph.module_of(revision) == module]:
        raise InvalidInput(
            "depends_on", own[0], f"must name other modules' revisions ({module} follows its own)"
        )
    return needs
