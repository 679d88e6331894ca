"""docs/schema.md is what the modules' schema.py say (regenerate: scripts/schema-reference)."""

from __future__ import annotations

from pathlib import Path

from chaindb.migrations import BUILTIN_MODULES
from chaindb.reference import schema_reference

REFERENCE = Path(__file__).parent.parent / "docs" / "schema.md"


def test_the_schema_reference_is_in_step_with_the_code():
    assert REFERENCE.read_text() == schema_reference(), "run scripts/schema-reference"


def test_it_covers_every_table_of_every_module():
    text = REFERENCE.read_text()
    for name in BUILTIN_MODULES:
        assert f"## Module `{name}`" in text
    for table in ("users", "ledger_transfers", "challenge_escrow_records", "chain_pins"):
        assert f"### `{table}`" in text
    assert "### `user_points_ledgers` (view)" in text
    assert "`NUMERIC(78, 0)` (AmountType)" in text
