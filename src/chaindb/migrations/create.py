"""Write a new, empty migration version for a module, numbered after its head."""

from __future__ import annotations

import re
from pathlib import Path

from chaindb.errors import InvalidInput
from chaindb.migrations.modules import RevisionGraph, split_revision_id

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,60}$")


def create(name: str, module: str) -> Path:
    """Create `<module>_<NNNN>_<slug>.py` in the module's folder; return its path."""
    if not _NAME.match(name):
        raise InvalidInput("name", name, "letters, digits, spaces, _ or -, at most 61 characters")
    graph = RevisionGraph.load()
    graph.selection([module])  # raises a clear error for an unknown module
    head = graph.head(module)
    number = split_revision_id(head)[1] + 1 if head else 1
    script = graph.script.generate_revision(
        f"{module}_{number:04d}",
        name,
        head=head or "base",
        branch_labels=None if head else (module,),
        version_path=str(graph.modules[module].versions_dir),
    )
    assert script is not None
    return Path(script.path)
