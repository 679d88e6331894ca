"""Which modules exist, where their versions live, and the graph their revisions form.

A module (`core`, `ledger`, ...) owns one folder of versions. Its revisions are named
`<module>_<NNNN>` and form one line; a revision may depend on other modules' revisions
(Alembic's `depends_on`), which is how modules depend on modules.
"""

from __future__ import annotations

import heapq
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from chaindb.errors import MigrationError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = Path(__file__).resolve().parent / "template"
BUILTIN_MODULES = ("core", "ledger", "challenges", "chain", "assets", "games", "tokens", "creators")
_REVISION_ID = re.compile(r"^(?P<module>[a-z][a-z0-9_]*)_(?P<number>\d{4})$")
_MODULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class MissingRevision(MigrationError):
    """A revision that another one revises or depends on has no file."""

    def __init__(
        self, revision: str, *, expected_in: str, needed_by: str, needed_by_path: str, link: str
    ) -> None:
        self.revision = revision
        self.detail = (
            f"{needed_by} ({needed_by_path}) {link} it, but no file in {expected_in} defines it"
        )
        super().__init__(f"migration {revision} is missing: {self.detail}")


@dataclass(frozen=True)
class Module:
    name: str
    versions_dir: Path


def registered_modules(env: Mapping[str, str] | None = None) -> list[Module]:
    """The built-in modules, then any listed in CHAINDB_MODULE_PATHS as name=dir entries."""
    env = os.environ if env is None else env
    modules = [Module(name, PACKAGE_DIR / name / "migrations") for name in BUILTIN_MODULES]
    for entry in filter(None, env.get("CHAINDB_MODULE_PATHS", "").split(os.pathsep)):
        name, sep, directory = entry.partition("=")
        if not sep or not _MODULE_NAME.match(name):
            raise MigrationError(
                f"CHAINDB_MODULE_PATHS: {entry!r} is invalid: expected name=directory "
                "with a lowercase module name"
            )
        path = Path(directory).expanduser().resolve()
        if not path.is_dir():
            raise MigrationError(
                f"CHAINDB_MODULE_PATHS: module {name!r}: {path} is not a directory"
            )
        modules.append(Module(name, path))
    names = [module.name for module in modules]
    if len(set(names)) != len(names):
        raise MigrationError(f"module names must be unique, got {names}")
    return modules


def split_revision_id(revision: str) -> tuple[str, int]:
    match = _REVISION_ID.match(revision)
    if not match:
        raise MigrationError(f"revision id {revision!r} must read <module>_<NNNN>, e.g. core_0001")
    return match["module"], int(match["number"])


class RevisionGraph:
    """Every registered revision, its parents, and plans over them."""

    def __init__(self, modules: list[Module]) -> None:
        self.modules = {module.name: module for module in modules}
        self.script = ScriptDirectory(
            str(TEMPLATE_DIR),
            version_locations=[str(module.versions_dir) for module in modules],
            messaging_opts={"quiet": True},
        )
        try:
            with warnings.catch_warnings():
                # Alembic warns, then fails with a bare KeyError, on a missing revision.
                warnings.simplefilter("ignore")
                scripts = list(self.script.walk_revisions())
        except (KeyError, CommandError, RevisionError) as error:
            raise self._explain_broken_chain(error) from None
        except SyntaxError as error:  # a migration file that Python cannot read
            raise MigrationError(
                f"migration file {error.filename} cannot be loaded: {type(error).__name__}: "
                f"{error.msg} (line {error.lineno})"
            ) from None
        self.revisions: dict[str, Script] = {s.revision: s for s in scripts}
        self._check_shape()
        self._parents = {rev: self._find_parents(rev) for rev in self.revisions}

    def _explain_broken_chain(self, error: Exception) -> MigrationError:
        """Name the revision that is referenced but has no file, who needs it and where its
        file was expected; Alembic's own error is a KeyError deep in its revision map."""
        # Only Alembic's (private) loader lists the scripts when their graph cannot be built.
        scripts = list(self.script._load_revisions())
        present = {script.revision for script in scripts}
        for script in sorted(scripts, key=lambda s: s.revision):
            for link, needed in (
                ("revises", _as_tuple(script.down_revision)),
                ("depends on", _as_tuple(script.dependencies)),
            ):
                for revision in needed:
                    if revision not in present and revision not in self.modules:
                        return MissingRevision(
                            revision,
                            expected_in=self.expected_folder(revision),
                            needed_by=script.revision,
                            needed_by_path=script.path,
                            link=link,
                        )
        return MigrationError(f"migration files are inconsistent: {error}")

    def expected_folder(self, revision: str) -> str:
        """Where the file of `revision` belongs (its module's folder), for error messages."""
        module = _REVISION_ID.match(revision)
        if module and module["module"] in self.modules:
            return f"{self.modules[module['module']].versions_dir} (module {module['module']})"
        return "none of the modules' folders (its name does not match a module)"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> RevisionGraph:
        return cls(registered_modules(env))

    def module_of(self, revision: str) -> str:
        return split_revision_id(revision)[0]

    def description(self, revision: str) -> str:
        """The first line of the revision's docstring."""
        doc = self.revisions[revision].module.__doc__ or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def parents(self, revision: str) -> set[str]:
        """What must be applied before `revision`: its previous version and its dependencies."""
        return self._parents[revision]

    def children(self, revision: str) -> set[str]:
        """What needs `revision` directly: its next version and its dependents."""
        return self._children[revision]

    @cached_property
    def _children(self) -> dict[str, set[str]]:
        children: dict[str, set[str]] = {rev: set() for rev in self.revisions}
        for rev in self.revisions:
            for parent in self.parents(rev):
                children[parent].add(rev)
        return children

    def _find_parents(self, revision: str) -> set[str]:
        script = self.revisions[revision]
        return set(_as_tuple(script.down_revision)) | {
            self.script.revision_map.get_revision(dep).revision
            for dep in _as_tuple(script.dependencies)
        }

    @cached_property
    def _topological_order(self) -> list[str]:
        """Parents first; among revisions ready to go, modules in registry order and each
        module's versions by number, so that a module is applied whole before the next."""
        waiting = {rev: len(self.parents(rev)) for rev in self.revisions}
        children = self._children
        ready = [(self._sort_key(rev), rev) for rev, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _key, rev = heapq.heappop(ready)
            order.append(rev)
            for child in children[rev]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (self._sort_key(child), child))
        if len(order) != len(self.revisions):
            raise MigrationError("migration dependencies form a cycle")
        return order

    def _sort_key(self, revision: str) -> tuple[int, int]:
        module, number = split_revision_id(revision)
        return list(self.modules).index(module), number

    def ordered(self, revisions: Iterable[str]) -> list[str]:
        """The given revisions in an order that applies parents first."""
        wanted = set(revisions)
        return [rev for rev in self._topological_order if rev in wanted]

    def module_revisions(self, module: str) -> list[str]:
        return [rev for rev in self._topological_order if self.module_of(rev) == module]

    def head(self, module: str) -> str | None:
        revisions = self.module_revisions(module)
        return revisions[-1] if revisions else None

    def ancestors(self, revisions: Iterable[str]) -> set[str]:
        """The revisions and everything they need, transitively."""
        seen: set[str] = set()
        stack = list(revisions)
        while stack:
            rev = stack.pop()
            if rev not in seen:
                seen.add(rev)
                stack.extend(self.parents(rev))
        return seen

    def descendants(self, revisions: Iterable[str]) -> set[str]:
        """The revisions and everything that needs them, transitively."""
        found = set(revisions)
        for rev in self._topological_order:
            if self.parents(rev) & found:
                found.add(rev)
        return found

    def module_dependencies(self, module: str) -> set[str]:
        """Modules whose revisions this module's revisions depend on, transitively."""
        return {self.module_of(rev) for rev in self.ancestors(self.module_revisions(module))}

    def selection(self, modules: Iterable[str]) -> list[str]:
        """The named modules and every module they depend on, in dependency order."""
        chosen: set[str] = set()
        for name in modules:
            if name not in self.modules:
                raise MigrationError(
                    f"module {name!r} is unknown: known modules are {', '.join(self.modules)}"
                )
            chosen |= self.module_dependencies(name) | {name}
        return [name for name in self.modules if name in chosen]

    def resolve(self, revision: str) -> str:
        if revision not in self.revisions:
            raise MigrationError(f"revision {revision!r} is unknown")
        return revision

    def _check_shape(self) -> None:
        for rev, script in self.revisions.items():
            module, _number = split_revision_id(rev)
            if module not in self.modules:
                raise MigrationError(f"revision {rev} names module {module!r}, which is unknown")
            if Path(script.path).resolve().parent != self.modules[module].versions_dir.resolve():
                raise MigrationError(f"revision {rev} lives outside module {module!r}'s folder")
            downs = _as_tuple(script.down_revision)
            if len(downs) > 1 or any(self.module_of(down) != module for down in downs):
                raise MigrationError(
                    f"revision {rev}: down_revision must be one earlier {module} revision "
                    "(use depends_on for other modules)"
                )
        has_child = {down for s in self.revisions.values() for down in _as_tuple(s.down_revision)}
        for module in self.modules:
            heads = sorted(
                r for r in self.revisions if self.module_of(r) == module and r not in has_child
            )
            if len(heads) > 1:
                raise MigrationError(f"module {module} has several heads: {', '.join(heads)}")


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)
