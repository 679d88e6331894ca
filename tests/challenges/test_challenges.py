"""Challenges: staked into escrow, resolved, paid exactly once, points awarded."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chaindb import Conflict, InvalidInput, NotFound, challenges, ledger
from chaindb.challenges import split_pot

USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"


@pytest.fixture
def usdc(ledger_db):
    return ledger.ensure_token_asset(
        ledger_db, chain_id=84532, token_address=USDC, symbol="USDC", decimals=6
    )


@pytest.fixture
def active(ledger_db, usdc):
    challenge = challenges.create_challenge(
        ledger_db,
        title="ETH > 4k",
        challenger="alice",
        challenged="bob",
        amount=25,
        payment_asset=usdc.code,
        points_multiplier="1.50",
        blockchain_chain_id=84532,
    )
    return challenges.activate_challenge(
        ledger_db,
        challenge.id,
        blockchain_creation_tx_hash="0x" + "c1" * 32,
        blockchain_contract_address="0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    )


def stake(db, challenge, user, side, amount, **extra):
    return challenges.create_escrow_record(
        db, challenge_id=challenge.id, user_id=user, side=side, amount_escrowed=amount, **extra
    )


def usdc_balance(db, usdc, user):
    return ledger.get_balance(db, f"user:{user}", usdc.code)


def test_a_new_challenge_is_pending_and_activation_makes_it_active(ledger_db, usdc):
    challenge = challenges.create_challenge(
        ledger_db, title="t", challenger="alice", payment_asset=usdc.code
    )
    assert (challenge.on_chain_status, challenge.status, challenge.on_chain_resolved) == (
        "pending",
        "pending",
        False,
    )
    active = challenges.activate_challenge(ledger_db, challenge.id, blockchain_chain_id=84532)
    assert (active.on_chain_status, active.status, active.blockchain_chain_id) == (
        "active",
        "active",
        84532,
    )


def test_stakes_are_held_in_escrow_and_counted_by_side(ledger_db, usdc, active):
    record = stake(ledger_db, active, "alice", "YES", 25_000_000)
    stake(ledger_db, active, "carol", "YES", 15_000_000)
    stake(ledger_db, active, "bob", "NO", 40_000_000)
    assert (record.status, record.amount_escrowed, record.token_address) == (
        "locked",
        25_000_000,
        USDC,
    )
    assert usdc_balance(ledger_db, usdc, "alice") == ledger.Balance(
        posted=25_000_000, held=25_000_000, available=0
    )
    (pending,) = challenges.get_challenges_pending_resolution(ledger_db)
    assert (pending.id, pending.yes_participants, pending.no_participants) == (active.id, 2, 1)
    assert [r.user_id for r in challenges.get_user_active_escrows(ledger_db, "alice")] == ["alice"]


def test_staking_twice_is_idempotent_but_not_a_change_of_side(ledger_db, active):
    first = stake(ledger_db, active, "alice", "YES", 1_000)
    assert stake(ledger_db, active, "alice", "YES", 1_000) == first
    with pytest.raises(Conflict, match="already staked"):
        stake(ledger_db, active, "alice", "NO", 1_000)


@pytest.mark.parametrize(
    ("field", "value"),
    [("side", "MAYBE"), ("amount_escrowed", -1), ("amount_escrowed", 0), ("user_id", "")],
)
def test_bad_stakes_are_refused_and_write_nothing(ledger_db, active, field, value):
    fields = {"challenge_id": active.id, "user_id": "alice", "side": "YES", "amount_escrowed": 5}
    with pytest.raises(InvalidInput) as error:
        challenges.create_escrow_record(ledger_db, **{**fields, field: value})
    assert error.value.field == field
    with ledger_db.read() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM challenge_participants")).scalar_one() == 0
        )
        assert conn.execute(sa.text("SELECT count(*) FROM ledger_transfers")).scalar_one() == 0


def test_resolution_pays_winners_pro_rata_and_awards_points(ledger_db, usdc, active):
    stake(ledger_db, active, "alice", "YES", 1_000_000)
    stake(ledger_db, active, "carol", "YES", 3_000_000)
    stake(ledger_db, active, "bob", "NO", 2_000_001)
    settlement = challenges.resolve_challenge(
        ledger_db,
        active.id,
        winning_side="YES",
        base_points=100,
        admin_signature="0xsig",
        resolution_tx_hash="0x" + "ab" * 32,
    )
    assert settlement.payouts == {"alice": 1_500_000, "carol": 4_500_001}  # the pot, exactly
    assert settlement.points == {"alice": 150, "carol": 150}  # 100 x 1.50
    resolved = settlement.challenge
    assert (
        resolved.on_chain_status,
        resolved.result,
        resolved.status,
        resolved.on_chain_resolved,
    ) == ("resolved", "challenger_won", "completed", True)
    assert usdc_balance(ledger_db, usdc, "carol").available == 4_500_001
    assert usdc_balance(ledger_db, usdc, "bob") == ledger.Balance(posted=0, held=0, available=0)
    assert ledger.get_account(ledger_db, "system:escrow", usdc.code).balance == 0
    assert ledger.get_user_points_balance(ledger_db, "alice") == 150
    assert ledger.check_ledger(ledger_db).ok


def test_resolving_again_pays_nothing_more(ledger_db, usdc, active):
    stake(ledger_db, active, "alice", "YES", 10)
    stake(ledger_db, active, "bob", "NO", 10)
    first = challenges.resolve_challenge(ledger_db, active.id, winning_side="YES")
    again = challenges.resolve_challenge(ledger_db, active.id, winning_side="YES")
    assert (again.payouts, again.points) == (first.payouts, first.points)
    assert usdc_balance(ledger_db, usdc, "alice").available == 20
    assert ledger.get_user_points_balance(ledger_db, "alice") == 150
    with pytest.raises(Conflict, match="already resolved as challenger_won"):
        challenges.resolve_challenge(ledger_db, active.id, winning_side="NO")


@pytest.mark.parametrize("winning_side", [None, "NO"])
def test_a_draw_or_a_side_nobody_took_refunds_every_stake(ledger_db, usdc, active, winning_side):
    stake(ledger_db, active, "alice", "YES", 700)
    stake(ledger_db, active, "carol", "YES", 300)
    settlement = challenges.resolve_challenge(ledger_db, active.id, winning_side=winning_side)
    assert settlement.payouts == {}
    assert sorted(settlement.refunded) == ["alice", "carol"]
    assert usdc_balance(ledger_db, usdc, "alice") == ledger.Balance(
        posted=700, held=0, available=700
    )
    assert ledger.get_user_points_balance(ledger_db, "alice") == 0


def test_claims_close_the_challenge(ledger_db, active):
    stake(ledger_db, active, "alice", "YES", 10)
    stake(ledger_db, active, "carol", "YES", 10)
    stake(ledger_db, active, "bob", "NO", 10)
    challenges.resolve_challenge(ledger_db, active.id, winning_side="YES")
    with pytest.raises(NotFound, match="no payout"):
        challenges.claim_payout(ledger_db, active.id, "bob")
    assert (
        challenges.claim_payout(ledger_db, active.id, "alice", "0x" + "0a" * 32).status == "claimed"
    )
    assert challenges.get_challenge(ledger_db, active.id).on_chain_status == "resolved"
    challenges.claim_payout(ledger_db, active.id, "carol")
    assert challenges.get_challenge(ledger_db, active.id).on_chain_status == "claimed"
    assert challenges.get_user_active_escrows(ledger_db, "alice") == []


def test_on_chain_status_only_moves_forward_one_step(ledger_db, active):
    with pytest.raises(Conflict, match="cannot move from active to claimed"):
        challenges.set_on_chain_status(ledger_db, active.id, "claimed")
    with pytest.raises(Conflict, match="cannot move from active to pending"):
        challenges.set_on_chain_status(ledger_db, active.id, "pending")
    with pytest.raises(InvalidInput):
        challenges.set_on_chain_status(ledger_db, active.id, "done")
    with pytest.raises(sa.exc.IntegrityError), ledger_db.transaction() as conn:  # the trigger
        conn.exec_driver_sql(
            f"UPDATE challenges SET on_chain_status = 'claimed' WHERE id = {active.id}"
        )
    assert challenges.get_challenge(ledger_db, active.id).on_chain_status == "active"


def test_a_pending_challenge_cannot_be_resolved_and_a_resolved_one_takes_no_stakes(
    ledger_db, usdc, active
):
    fresh = challenges.create_challenge(
        ledger_db, title="later", challenger="alice", payment_asset=usdc.code
    )
    with pytest.raises(Conflict, match="activate it first"):
        challenges.resolve_challenge(ledger_db, fresh.id, winning_side="YES")
    challenges.resolve_challenge(ledger_db, active.id, winning_side=None)
    with pytest.raises(Conflict, match="stakes are closed"):
        stake(ledger_db, active, "dave", "NO", 5)


def test_update_escrow_status_refunds_a_locked_stake(ledger_db, usdc, active):
    record = stake(ledger_db, active, "alice", "YES", 500)
    refunded = challenges.update_escrow_status(ledger_db, record.id, "refunded")
    assert refunded.status == "refunded"
    assert usdc_balance(ledger_db, usdc, "alice").available == 500
    assert challenges.update_escrow_status(ledger_db, record.id, "refunded") == refunded
    with pytest.raises(Conflict, match="cannot move from refunded to claimed"):
        challenges.update_escrow_status(ledger_db, record.id, "claimed")


def test_stakes_from_the_ledger_balance_need_funds(ledger_db, usdc, active):
    with pytest.raises(ledger.InsufficientFunds):
        stake(ledger_db, active, "alice", "YES", 500, from_wallet=False)
    ledger.transfer(
        ledger_db,
        asset=usdc.code,
        debit="system:issuance",
        credit="user:alice",
        amount=500,
        kind="deposit",
    )
    assert stake(ledger_db, active, "alice", "YES", 500, from_wallet=False).status == "locked"


@pytest.mark.parametrize(
    ("pot", "stakes", "shares"),
    [
        (10, {"a": 1, "b": 1, "c": 1}, {"a": 4, "b": 3, "c": 3}),
        (2**256 - 1, {"a": 1, "b": 2}, {"a": (2**256 - 1) // 3, "b": 2 * ((2**256 - 1) // 3)}),
        # 2**256 - 2 leaves a remainder of 1: it goes to the larger fraction (a's 2/3).
        (2**256 - 2, {"a": 1, "b": 2}, {"a": (2**256 - 2) // 3 + 1, "b": 2 * (2**256 - 2) // 3}),
        (7, {"a": 7}, {"a": 7}),
    ],
)
def test_split_pot_is_exact(pot, stakes, shares):
    result = split_pot(pot, stakes)
    assert result == shares
    assert sum(result.values()) == pot


def test_a_settlement_won_by_a_user_id_with_a_colon_is_undone(ledger_db, usdc):
    """Reorg undo read who was paid from the idempotency key, split on ':'."""
    from chaindb.core import create_user

    create_user(ledger_db, "a:b", None)
    challenge = challenges.create_challenge(
        ledger_db, title="t", challenger="a:b", challenged="bob", payment_asset=usdc.code
    )
    challenges.activate_challenge(ledger_db, challenge.id)
    for user, side in (("a:b", "YES"), ("bob", "NO")):
        challenges.create_escrow_record(
            ledger_db,
            challenge_id=challenge.id,
            user_id=user,
            side=side,
            amount_escrowed=2**63 + 7,
        )
    with ledger_db.transaction() as conn:
        challenges.settle_resolution(conn, challenge.id, winning_side="YES", key_prefix="fx:1:b1")
    assert ledger.get_balance(ledger_db, "user:a:b", usdc.code).available == 2 * (2**63 + 7)
    with ledger_db.transaction() as conn:
        undone = challenges.unsettle(conn, challenge.id, key_prefix="fx:1:b1")
    assert undone.on_chain_status == "active"
    for user in ("a:b", "bob"):
        balance = ledger.get_balance(ledger_db, f"user:{user}", usdc.code)
        assert (balance.available, balance.held) == (0, 2**63 + 7)
    assert ledger.get_user_points_balance(ledger_db, "a:b") == 0
    assert [r.status for r in challenges.get_escrow_records(ledger_db, challenge.id)] == [
        "locked",
        "locked",
    ]
    assert ledger.check_ledger(ledger_db).ok
