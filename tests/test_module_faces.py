"""Each module's `__init__` is its one door: no code outside a module imports its internal
files. A module's schema.py may name another module's tables as foreign-key targets (its
`schema`); migrations and the module itself may use anything of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import chaindb
from chaindb.migrations import BUILTIN_MODULES

SOURCE = Path(chaindb.__file__).parent


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def owner(path: Path) -> str | None:
    parts = path.relative_to(SOURCE).parts
    return parts[0] if len(parts) > 1 and parts[0] in BUILTIN_MODULES else None


def allowed(importer: Path, target_module: str, inner: str) -> bool:
    if owner(importer) == target_module:
        return True
    return inner == "schema" and importer.name == "schema.py"


def test_no_module_reaches_into_another_modules_files():
    reaches = []
    for path in sorted(SOURCE.rglob("*.py")):
        for name in imported_modules(path):
            parts = name.split(".")
            if len(parts) < 3 or parts[0] != "chaindb" or parts[1] not in BUILTIN_MODULES:
                continue
            inner = parts[2]
            is_file = (SOURCE / parts[1] / f"{inner}.py").exists()
            if (is_file or (SOURCE / parts[1] / inner).is_dir()) and not allowed(
                path, parts[1], inner
            ):
                reaches.append(f"{path.relative_to(SOURCE)} imports {name}")
    assert sorted(set(reaches)) == []


def test_every_module_has_the_same_face():
    for name in BUILTIN_MODULES:
        folder = SOURCE / name
        assert (folder / "__init__.py").exists() and (folder / "schema.py").exists(), name
        assert sorted(folder.glob("migrations/*_0001_*.py")), name
