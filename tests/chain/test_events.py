"""The escrow's logs: ingested once, projected when final, marked removed when orphaned."""

from __future__ import annotations

import sqlalchemy as sa

from chaindb import challenges, ledger
from chaindb.chain.escrow import claim_on_chain, stake_on_chain
from chaindb.chain.events import ingest_escrow_events
from chaindb.chain.schema import chain_cursors, chain_events
from chaindb.chain.settlement import resolve_challenge_on_chain
from chaindb.chain.tracker import track
from tests.chain.conftest import CONFIRMATIONS

ETH = 10**18


def events(bridge) -> list[tuple[str, str]]:
    with bridge.db.read() as conn:
        rows = conn.execute(
            sa.select(chain_events.c.event, chain_events.c.status).order_by(chain_events.c.id)
        ).all()
    return [tuple(row) for row in rows]


def new_challenge(bridge):
    challenge = challenges.create_challenge(
        bridge.db, title="t", challenger="alice", challenged="bob", payment_asset=bridge.eth.code
    )
    return challenges.activate_challenge(bridge.db, challenge.id)


def stake(bridge, challenge, user, side, amount):
    return stake_on_chain(
        bridge.db,
        bridge.chain,
        bridge.players[user],
        escrow_address=bridge.escrow,
        challenge_id=challenge.id,
        side=side,
        amount=amount,
        user_id=user,
    )


def test_a_stake_becomes_an_escrow_record_once_final(bridge):
    challenge = new_challenge(bridge)
    stake(bridge, challenge, "alice", "YES", 2 * ETH)
    report = ingest_escrow_events(bridge.db, bridge.chain)
    assert (report.ingested, report.projected) == (1, 0)
    assert challenges.get_escrow_records(bridge.db, challenge.id) == [], "not final yet"
    bridge.mine(CONFIRMATIONS)
    assert ingest_escrow_events(bridge.db, bridge.chain).projected == 1
    (record,) = challenges.get_escrow_records(bridge.db, challenge.id)
    assert (record.user_id, record.side, record.amount_escrowed, record.status) == (
        "alice",
        "YES",
        2 * ETH,
        "locked",
    )
    assert bridge.balance("alice") == ledger.Balance(posted=2 * ETH, held=2 * ETH, available=0)
    assert events(bridge) == [("Staked", "projected")]


def test_reading_the_same_blocks_twice_changes_nothing(bridge):
    challenge = new_challenge(bridge)
    stake(bridge, challenge, "alice", "YES", ETH)
    stake(bridge, challenge, "bob", "NO", ETH)
    bridge.settle()
    with bridge.db.transaction() as conn:  # rewind the cursor: the same blocks again
        conn.execute(chain_cursors.update().values(block_number=0))
    report = ingest_escrow_events(bridge.db, bridge.chain)
    assert (report.ingested, report.projected) == (0, 0)
    assert len(challenges.get_escrow_records(bridge.db, challenge.id)) == 2
    assert bridge.balance("alice").held == ETH
    assert ledger.check_ledger(bridge.db).ok


def test_orphaned_logs_are_marked_removed_and_the_new_branch_is_read(bridge):
    challenge = new_challenge(bridge)
    before = bridge.chain.w3.testing.snapshot()
    stake(bridge, challenge, "alice", "YES", ETH)
    ingest_escrow_events(bridge.db, bridge.chain)
    bridge.chain.w3.testing.revert(before)
    bridge.chain.tester.mine_blocks(2, coinbase=bridge.chain.w3.eth.accounts[9])
    stake(bridge, challenge, "carol", "YES", 3 * ETH)  # the new branch has carol's stake instead
    report = ingest_escrow_events(bridge.db, bridge.chain)
    assert (report.removed, report.ingested) == (1, 1)
    bridge.mine(CONFIRMATIONS)
    ingest_escrow_events(bridge.db, bridge.chain)
    assert events(bridge) == [("Staked", "removed"), ("Staked", "projected")]
    assert [r.user_id for r in challenges.get_escrow_records(bridge.db, challenge.id)] == ["carol"]


def test_claims_are_projected_and_unknown_wallets_skipped(bridge):
    challenge = new_challenge(bridge)
    stake(bridge, challenge, "alice", "YES", ETH)
    stake(bridge, challenge, "bob", "NO", ETH)
    stranger = bridge.chain.funded_account(7)
    stake_on_chain(
        bridge.db,
        bridge.chain,
        stranger,
        escrow_address=bridge.escrow,
        challenge_id=challenge.id,
        side="NO",
        amount=ETH,
    )
    bridge.settle()
    resolve_challenge_on_chain(
        bridge.db,
        bridge.chain,
        challenge_id=challenge.id,
        winning_side="YES",
        admin=bridge.admin,
        sender=bridge.deployer,
    )
    bridge.settle()
    claim_on_chain(
        bridge.db,
        bridge.chain,
        bridge.players["alice"],
        escrow_address=bridge.escrow,
        challenge_id=challenge.id,
        user_id="alice",
    )
    bridge.settle()
    track(bridge.db, bridge.chain)
    assert events(bridge) == [
        ("Staked", "projected"),
        ("Staked", "projected"),
        ("Staked", "skipped"),
        ("Resolved", "projected"),
        ("Claimed", "projected"),
    ]
    alice = next(
        r for r in challenges.get_escrow_records(bridge.db, challenge.id) if r.user_id == "alice"
    )
    assert alice.status == "claimed" and alice.claim_tx_hash is not None
