"""A database follows the chains it recorded: a node of another chain is refused, nothing changes.

Every in-process EVM has chain id eip155:131277322940537; what tells two apart is their genesis
block, as with devnets and forks that reuse a chain id.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chaindb import challenges, ledger, migrations
from chaindb.chain.client import connect_chain
from chaindb.chain.events import ingest_escrow_events
from chaindb.chain.pins import ChainMismatch, list_chain_pins, pin_chain
from chaindb.chain.sending import send_transaction
from chaindb.chain.settlement import resolve_challenge_on_chain
from chaindb.chain.tracker import track
from tests.chain.conftest import CONFIRMATIONS, PLAYERS, open_challenge
from tests.chain.rpc_server import FlakyNode
from tests.conftest import run_cli

ETH = 10**18
STAKES = {"alice": ("YES", 1 * ETH), "bob": ("NO", 2 * ETH)}


@pytest.fixture
def settled(bridge):
    """A challenge staked, resolved for YES and paid out, all final."""
    challenge = open_challenge(bridge, STAKES)
    resolve_challenge_on_chain(
        bridge.db,
        bridge.chain,
        challenge_id=challenge.id,
        winning_side="YES",
        admin=bridge.admin,
        sender=bridge.deployer,
    )
    bridge.settle()
    assert bridge.balance("alice").available == 3 * ETH
    return challenge


def what_a_user_sees(bridge, challenge):
    with bridge.db.read() as conn:
        transactions = conn.execute(
            sa.text(
                "SELECT transaction_hash, status, block_hash, confirmations, is_final"
                " FROM blockchain_transactions ORDER BY id"
            )
        ).all()
        events = conn.execute(sa.text("SELECT id, status FROM chain_events ORDER BY id")).all()
    return (
        transactions,
        events,
        {user: bridge.balance(user) for user in PLAYERS},
        {user: ledger.get_user_points_balance(bridge.db, user) for user in PLAYERS},
        challenges.get_challenge(bridge.db, challenge.id).on_chain_status,
    )


def test_the_first_transaction_on_a_chain_pins_its_genesis(bridge):
    (pin,) = list_chain_pins(bridge.db)
    assert (pin.chain_id, pin.genesis_hash) == (bridge.chain.chain_id, bridge.chain.genesis_hash)
    assert pin.pinned_via == bridge.chain.node


def test_another_chain_with_the_same_id_is_refused_everywhere_and_nothing_changes(bridge, settled):
    other = connect_chain(confirmations=CONFIRMATIONS)  # a fresh EVM: same id, other genesis
    assert other.chain_id == bridge.chain.chain_id
    before = what_a_user_sees(bridge, settled)
    attempts = {
        "track": lambda: track(bridge.db, other),
        "ingest": lambda: ingest_escrow_events(bridge.db, other, escrow_address=bridge.escrow),
        "send": lambda: send_transaction(
            bridge.db,
            other,
            other.funded_account(1),
            {"to": bridge.players["bob"].address, "value": 1},
            transaction_type="payment",
        ),
        "resolve": lambda: resolve_challenge_on_chain(
            bridge.db, other, challenge_id=settled.id, winning_side="NO", admin=bridge.admin
        ),
    }
    for path, attempt in attempts.items():
        with pytest.raises(ChainMismatch) as refused:
            attempt()
        message = str(refused.value)
        assert other.genesis_hash in message and bridge.chain.genesis_hash in message, path
        assert "nothing was changed" in message, path
    assert what_a_user_sees(bridge, settled) == before
    assert other.head() == 0, "nothing was broadcast to the other chain"


def test_watch_on_a_new_in_process_evm_is_refused_and_undoes_nothing(bridge, settled, db_url):
    """The demo's database, then `chaindb watch` with no CHAINDB_RPC_URL."""
    before = what_a_user_sees(bridge, settled)
    watched = run_cli("watch", "--passes", "1", env={"CHAINDB_URL": db_url, "CHAINDB_RPC_URL": ""})
    assert watched.returncode == 1
    error = watched.stderr.splitlines()[-1]
    assert error.startswith("error: a new in-process EVM (no CHAINDB_RPC_URL) is not a chain")
    assert f"follows {bridge.chain.chain_id} with genesis {bridge.chain.genesis_hash}" in error
    assert error.count("genesis 0x") == 2, "both genesis hashes are named"
    assert "Traceback" not in watched.stderr
    assert what_a_user_sees(bridge, settled) == before


def test_a_node_of_a_chain_the_database_has_nothing_on_is_refused_by_the_tracker(bridge):
    with FlakyNode(chain_id=1337) as node:
        other = connect_chain(node.url)
        with pytest.raises(ChainMismatch) as refused:
            track(bridge.db, other)
    message = str(refused.value)
    assert message.startswith(f"the node at {node.url} is not a chain this database follows")
    assert "serves eip155:1337 with genesis 0x" in message
    assert f"it follows {bridge.chain.chain_id} with genesis {bridge.chain.genesis_hash}" in message


def test_a_pin_is_never_overwritten(bridge):
    other = connect_chain(confirmations=CONFIRMATIONS)
    with pytest.raises(ChainMismatch), bridge.db.transaction() as conn:
        pin_chain(conn, other)
    (pin,) = list_chain_pins(bridge.db)
    assert pin.genesis_hash == bridge.chain.genesis_hash


def test_a_database_from_before_pins_is_pinned_by_a_node_that_holds_its_blocks(bridge, settled):
    # as a database recorded before chain_0002: its pin is the data meant to go
    migrations.rollback(bridge.db, "chain_0001", allow_data_loss=True)
    migrations.migrate(bridge.db)
    assert list_chain_pins(bridge.db) == []
    before = what_a_user_sees(bridge, settled)
    other = connect_chain(confirmations=CONFIRMATIONS)
    with pytest.raises(ChainMismatch, match="none of the final blocks this database recorded"):
        track(bridge.db, other)
    assert list_chain_pins(bridge.db) == []
    assert what_a_user_sees(bridge, settled) == before

    report = track(bridge.db, bridge.chain)
    assert (report.reorged, report.effects_undone) == (0, 0)
    (pin,) = list_chain_pins(bridge.db)
    assert pin.genesis_hash == bridge.chain.genesis_hash
    assert what_a_user_sees(bridge, settled) == before
