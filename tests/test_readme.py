"""Every Python block of the README runs as written, in order, on both backends: the examples
never rot (the ledger's uses the users the first one made; the chain's makes its accounts)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_the_readme_has_its_examples():
    assert len(BLOCKS) >= 3
    assert any("chain.connect_chain()" in block for block in BLOCKS)


def test_every_python_block_runs_as_written(db_url, monkeypatch):
    monkeypatch.setenv("CHAINDB_URL", db_url)  # what chaindb.connect() opens in the first block
    namespace: dict[str, object] = {}
    try:
        for number, block in enumerate(BLOCKS, start=1):
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
    finally:
        database = namespace.get("db")
        if database is not None:
            database.close()  # type: ignore[attr-defined]
