"""What migrate and rollback aim at: revisions, module heads, and relative targets.

Relative targets read as Alembic's: `migrate --to +2` applies the next two pending migrations
(in the order migrate would apply them); `rollback -2` undoes the two most recently applied
ones, newest first (Flyway's undo). With a module, `rollback -2 --module app` goes back two of
that module's revisions, and takes along what depends on them (Alembic's `app@-2`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from chaindb.errors import InvalidInput, MigrationError
from chaindb.migrations.bookkeeping import AppliedMigration
from chaindb.migrations.modules import RevisionGraph

BASE = "base"
_RELATIVE = re.compile(r"^(?P<sign>[+-])(?P<count>\d+)$")


def configured_modules(graph: RevisionGraph, env: Mapping[str, str] | None = None) -> list[str]:
    """CHAINDB_MODULES (comma-separated; default: all), with their dependencies."""
    env = os.environ if env is None else env
    raw = env.get("CHAINDB_MODULES", "").strip()
    names = (
        [name.strip() for name in raw.split(",") if name.strip()] if raw else list(graph.modules)
    )
    return graph.selection(names)


def relative_steps(
    target: str | None, steps: int | None, *, sign: str, field: str
) -> tuple[str | None, int | None]:
    """`target` as `+N` / `-N` (per `sign`) becomes `steps`; both at once is refused."""
    match = _RELATIVE.match(target) if target is not None else None
    if match and match["sign"] == sign:
        if steps is not None:
            raise InvalidInput(field, target, "give a relative target or steps, not both")
        target, steps = None, int(match["count"])
    if steps is not None and steps < 1:
        raise InvalidInput("steps", steps, "must be at least 1")
    if target is not None and steps is not None:
        raise InvalidInput(field, target, "give a revision or steps, not both")
    return target, steps


def upgrade_targets(
    graph: RevisionGraph,
    applied: Iterable[str],
    *,
    modules: Iterable[str] | None = None,
    to: str | None = None,
    steps: int | None = None,
) -> set[str]:
    """Every revision the database should have after migrate."""
    to, steps = relative_steps(to, steps, sign="+", field="to")
    if to is not None:
        return graph.ancestors([graph.resolve(to)])
    names = graph.selection(modules) if modules else configured_modules(graph)
    targets = graph.ancestors(head for name in names if (head := graph.head(name)))
    if steps is None:
        return targets
    pending = graph.ordered(targets - set(applied))
    if steps > len(pending):
        raise MigrationError(
            f"cannot apply {steps} migrations: {len(pending)} "
            f"{'is' if len(pending) == 1 else 'are'} pending"
        )
    return graph.ancestors(pending[:steps])  # parents come first in that order


def rollback_removals(
    graph: RevisionGraph,
    applied: Mapping[str, AppliedMigration],
    *,
    target: str | None,
    module: str | None,
    steps: int | None,
) -> set[str]:
    """The revisions rollback removes (those of them applied, newest first, go)."""
    target, steps = relative_steps(target, steps, sign="-", field="target")
    if target is None and steps is None:
        raise MigrationError(
            "rollback needs a target: a revision, base, -N (the last N) or --steps N"
        )
    if module is not None:
        graph.selection([module])  # a clear error for an unknown module
    if steps is not None:
        if module is None:
            return set(latest_applied(graph, applied, steps))
        target = _module_revision_before(graph, applied, module, steps)
    if target == BASE:
        roots = graph.module_revisions(module) if module else list(graph.revisions)
    else:
        kept = graph.resolve(target)
        revisions = graph.module_revisions(graph.module_of(kept))
        roots = revisions[revisions.index(kept) + 1 :]
    return graph.descendants(roots)


def latest_applied(
    graph: RevisionGraph, applied: Mapping[str, AppliedMigration], count: int
) -> list[str]:
    """The `count` most recently applied revisions, in the order they are undone."""
    known = sum(1 for revision in applied if revision in graph.revisions)
    if count > known:
        raise MigrationError(
            f"cannot roll back {count} migrations: {known} {'is' if known == 1 else 'are'} applied"
        )
    return removal_order(graph, applied, set(applied), limit=count)


def removal_order(
    graph: RevisionGraph,
    applied: Mapping[str, AppliedMigration],
    removable: set[str],
    *,
    limit: int | None = None,
) -> list[str]:
    """The applied revisions of `removable` in the order a rollback undoes them: each time,
    the most recently applied one that nothing still applied needs (newest first, as a user
    who just migrated expects, and always possible)."""
    order = {revision: index for index, revision in enumerate(graph.ordered(graph.revisions))}
    remaining = {rev: row for rev, row in applied.items() if rev in graph.revisions}
    todo = removable & remaining.keys()
    chosen: list[str] = []
    for _ in range(len(todo) if limit is None else min(limit, len(todo))):
        leaves = [rev for rev in todo if not graph.children(rev) & remaining.keys()]
        if not leaves:
            raise MigrationError(
                f"cannot roll back {', '.join(sorted(todo))}: migrations that need them stay"
            )
        newest = max(leaves, key=lambda rev: (remaining[rev].applied_at, order[rev]))
        chosen.append(newest)
        del remaining[newest]
        todo.discard(newest)
    return chosen


def _module_revision_before(
    graph: RevisionGraph, applied: Mapping[str, AppliedMigration], module: str, steps: int
) -> str:
    done = [rev for rev in graph.module_revisions(module) if rev in applied]
    if steps > len(done):
        raise MigrationError(
            f"cannot roll back {steps} migrations of {module}: {len(done)} "
            f"{'is' if len(done) == 1 else 'are'} applied"
        )
    return done[-steps - 1] if steps < len(done) else BASE
