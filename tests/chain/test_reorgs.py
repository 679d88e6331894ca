"""Reorgs of depth 1 to 5 under an on-chain resolution: no effect is ever counted twice.

Finality is 3 blocks here. A reorg of depth d orphans the resolution's block and the d - 1 after
it: for d < 3 the resolution was not final yet (nothing had moved in the ledger); for d >= 3 its
effects had been applied and must be undone by compensating transfers. Either way the chain then
heals (the same signed transaction is mined again on the new branch) and the ledger ends exactly
as one settlement leaves it, matching what the contract pays.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chaindb import challenges, core, ledger
from chaindb.chain.schema import chain_tx_effects
from chaindb.chain.settlement import resolve_challenge_on_chain
from chaindb.chain.tracker import track
from tests.chain.conftest import CONFIRMATIONS, open_challenge

ETH = 10**18
STAKES = {"alice": ("YES", 1 * ETH), "carol": ("YES", 2 * ETH), "bob": ("NO", 4 * ETH)}


def effect_row(bridge):
    with bridge.db.read() as conn:
        return conn.execute(sa.select(chain_tx_effects)).mappings().one()


def resolve(bridge, challenge):
    return resolve_challenge_on_chain(
        bridge.db,
        bridge.chain,
        challenge_id=challenge.id,
        winning_side="YES",
        admin=bridge.admin,
        sender=bridge.deployer,
    )


def assert_settled_once(bridge, challenge):
    for user in ("alice", "carol"):
        assert bridge.balance(user).available == bridge.payout_on_chain(user, challenge.id)
        assert ledger.get_user_points_balance(bridge.db, user) == 150
        assert ledger.ensure_user_points_ledger(bridge.db, user).total_earned == 150
    assert bridge.balance("bob") == ledger.Balance(posted=0, held=0, available=0)
    assert challenges.get_challenge(bridge.db, challenge.id).on_chain_status == "resolved"
    report = ledger.check_ledger(bridge.db)
    assert report.ok, report.problems()


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_a_reorg_never_counts_an_effect_twice(bridge, depth):
    challenge = open_challenge(bridge, STAKES)
    before = bridge.chain.w3.testing.snapshot()
    sent = resolve(bridge, challenge).transaction
    bridge.mine(depth - 1)  # the resolution's block and depth - 1 more: all will be orphaned
    track(bridge.db, bridge.chain)
    was_final = depth >= CONFIRMATIONS
    assert (effect_row(bridge)["state"] == "applied") is was_final

    bridge.chain.w3.testing.revert(before)  # the competing branch, longer than the orphaned one
    bridge.chain.tester.mine_blocks(depth + 1, coinbase=bridge.chain.w3.eth.accounts[9])
    report = track(bridge.db, bridge.chain)
    assert report.reorged == 1
    assert report.effects_undone == int(was_final)
    assert core.get_blockchain_transaction(bridge.db, sent.transaction_hash).status == "pending"
    for user, (_side, stake) in STAKES.items():  # every stake is held again, nothing paid
        assert bridge.balance(user) == ledger.Balance(posted=stake, held=stake, available=0)
        assert ledger.get_user_points_balance(bridge.db, user) == 0
    assert challenges.get_challenge(bridge.db, challenge.id).on_chain_status == "active"

    again = resolve(bridge, challenge).transaction  # rerun: the same transaction, rebroadcast
    assert again.transaction_hash == sent.transaction_hash
    bridge.mine(CONFIRMATIONS)
    track(bridge.db, bridge.chain)
    track(bridge.db, bridge.chain)
    assert_settled_once(bridge, challenge)
    effect = effect_row(bridge)
    assert (effect["applications"], effect["compensations"]) == (1 + was_final, int(was_final))


def test_a_reorg_is_recorded_as_a_security_event(bridge):
    challenge = open_challenge(bridge, STAKES)
    before = bridge.chain.w3.testing.snapshot()
    resolve(bridge, challenge)
    bridge.mine(CONFIRMATIONS)
    track(bridge.db, bridge.chain)
    bridge.chain.w3.testing.revert(before)
    bridge.chain.tester.mine_blocks(CONFIRMATIONS + 2, coinbase=bridge.chain.w3.eth.accounts[9])
    track(bridge.db, bridge.chain)
    (event,) = core.get_security_events(bridge.db, event_type="chain_reorg")
    assert event.severity == "warning" and event.metadata["was_final"] is True


def test_resolving_again_after_a_crash_sends_nothing_new(bridge):
    challenge = open_challenge(bridge, STAKES)
    first = resolve(bridge, challenge)
    second = resolve(bridge, challenge)
    assert second.transaction.transaction_hash == first.transaction.transaction_hash
    assert second.signature.id == first.signature.id
    bridge.mine(CONFIRMATIONS)
    track(bridge.db, bridge.chain)
    assert_settled_once(bridge, challenge)


class Crash(BaseException):
    """The process dies (not an error anyone catches)."""


def test_a_crash_between_logging_and_broadcasting_loses_nothing(bridge, monkeypatch):
    challenge = open_challenge(bridge, STAKES)

    def die(*_args):
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr("chaindb.chain.sending._broadcast", die)
        with pytest.raises(Crash):
            resolve(bridge, challenge)
    logged = core.get_recent_blockchain_transactions(
        bridge.db, transaction_type="challenge_resolve"
    )
    assert [t.status for t in logged] == ["pending"], "logged, with its effect, before sending"
    assert bridge.chain.transaction(logged[0].transaction_hash) is None, "the node never got it"
    rerun = resolve(bridge, challenge).transaction
    assert rerun.transaction_hash == logged[0].transaction_hash
    bridge.mine(CONFIRMATIONS)
    track(bridge.db, bridge.chain)
    assert_settled_once(bridge, challenge)
