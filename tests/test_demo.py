"""`chaindb demo`, the story `make demo` tells, run as a user runs it (SQLite: the embedded
default it is written for)."""

from __future__ import annotations

from tests.conftest import run_cli


def test_the_demo_settles_survives_a_reorg_and_pays_once(tmp_path):
    url = f"sqlite:///{tmp_path}/demo.sqlite3"  # a new file: the demo migrates it first
    demo = run_cli("demo", env={"CHAINDB_URL": url})
    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    assert "admin signed (EIP-712, verified: True)" in out
    assert "escrow released, points awarded: alice 3 ETH free, 0 held, 150 points" in out
    assert "1 effect undone by compensating transfers" in out
    assert "after the reorg (stakes held again, nothing paid): alice 0 ETH free, 1 held" in out
    assert "final: alice 3 ETH free, 0 held, 150 points" in out
    assert "the contract will pay alice 3 ETH; the ledger credited 3 ETH" in out
    assert "ledger check: ok" in out
    assert "a worker minted them in 2 batches" in out and "{'completed': 3}" in out
    assert "bob used one; bob has access: True" in out
    assert "50,000 plays recorded in batches" in out and "counted once" in out
    assert "milestone reached: 5,000 followers" in out
    assert "milestone reached: 50,000 plays" in out
    assert "metrics synced on chain: 50,000 plays, 5,000 followers (the database: 50,000, " in out
    assert "coin MIRA created at 0x" in out
    again = run_cli("demo", env={"CHAINDB_URL": url})
    assert again.returncode == 1 and "fresh database" in again.stderr
