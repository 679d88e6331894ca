"""Staking: a position holds CRAP, earns exact rewards paid from the rewards pool through the
ledger, and unstakes at ends_at (an early exit is penalised); every step is idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chaindb import InvalidInput, ledger
from chaindb.games import (
    CRAP,
    EARLY_EXIT_PENALTY_BPS,
    STAKING,
    accrued_rewards,
    claim_rewards,
    fund_pool,
    get_audit_log,
    get_staking_positions,
    get_token_balance,
    stake,
    unstake,
)
from tests.games.conftest import START_CRAP

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def staked(games_db):
    fund_pool(games_db, pool="rewards", amount=10**9)
    position = stake(
        games_db, user_id="alice", amount=730_000, lock_period_days=30, reward_rate="0.05",
        position_id="p1", now=T0,
    )  # fmt: skip
    return games_db, position


def test_a_stake_is_held_and_shows_in_token_balances(staked):
    db, position = staked
    balance = get_token_balance(db, "alice")
    assert (balance.balance, balance.locked_balance, balance.staked_balance) == (
        START_CRAP - 730_000, 0, 730_000,
    )  # fmt: skip
    assert position.ends_at == T0 + timedelta(days=30)
    assert position.reward_rate == Decimal("0.05")
    assert get_staking_positions(db, "alice") == [position]


def test_rewards_accrue_exactly_and_are_claimed_once(staked):
    db, position = staked
    # 730,000 x 5 % a year for one day: exactly 100 base units
    assert accrued_rewards(position, T0 + timedelta(days=1)) == 100
    assert accrued_rewards(position, T0 + timedelta(seconds=1)) == 0  # 0.00115...: rounded down
    claim = claim_rewards(db, position_id="p1", now=T0 + timedelta(days=1))
    assert claim.paid == 100 and claim.position.claimed_rewards == 100
    again = claim_rewards(db, position_id="p1", now=T0 + timedelta(days=1))
    assert again.paid == 0
    assert get_token_balance(db, "alice").balance == START_CRAP - 730_000 + 100
    # past ends_at nothing more accrues
    assert accrued_rewards(position, T0 + timedelta(days=400)) == 3_000


def test_unstaking_at_ends_at_releases_the_hold_and_pays_the_rest(staked):
    db, _position = staked
    claim_rewards(db, position_id="p1", now=T0 + timedelta(days=1))
    done = unstake(db, position_id="p1", now=T0 + timedelta(days=31))
    assert (done.released, done.penalty, done.rewards_paid) == (730_000, 0, 2_900)
    assert not done.position.is_active and done.position.claimed_rewards == 3_000
    balance = get_token_balance(db, "alice")
    assert (balance.balance, balance.staked_balance) == (START_CRAP + 3_000, 0)
    again = unstake(db, position_id="p1", now=T0 + timedelta(days=32))
    assert again.rewards_paid == 0 and again.released == 0
    assert claim_rewards(db, position_id="p1", now=T0 + timedelta(days=40)).paid == 0
    assert get_token_balance(db, "alice").balance == START_CRAP + 3_000
    assert ledger.check_ledger(db).ok


def test_an_early_unstake_keeps_a_penalty_and_forfeits_unclaimed_rewards(staked):
    db, _position = staked
    done = unstake(db, position_id="p1", now=T0 + timedelta(days=10))
    penalty = 730_000 * EARLY_EXIT_PENALTY_BPS // 10_000
    assert (done.penalty, done.released, done.rewards_paid) == (penalty, 730_000 - penalty, 0)
    assert get_token_balance(db, "alice").balance == START_CRAP - penalty
    assert ledger.get_balance(db, STAKING, CRAP).posted == penalty
    trail = get_audit_log(db, entity_type="staking_position", entity_id="p1")
    assert [entry.action for entry in trail] == ["stake", "unstake"]
    assert trail[-1].before["is_active"] is True and trail[-1].after["penalty"] == penalty


def test_a_claim_the_rewards_pool_cannot_cover_is_refused_whole(games_db):
    fund_pool(games_db, pool="rewards", amount=1)
    stake(
        games_db, user_id="bob", amount=730_000, lock_period_days=7, reward_rate="0.05",
        position_id="p2", now=T0,
    )  # fmt: skip
    with pytest.raises(ledger.InsufficientFunds, match="system:games_rewards"):
        claim_rewards(games_db, position_id="p2", now=T0 + timedelta(days=2))
    assert get_staking_positions(games_db, "bob")[0].claimed_rewards == 0


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("lock_period_days", 6, "greater than or equal to 7"),
        ("reward_rate", "0.123456789", "8 decimal places"),
        ("reward_rate", "-0.01", "greater than or equal to 0"),
        ("amount", 0, "must be > 0"),
        ("amount", 2**256, "uint256"),
    ],
)
def test_bad_stakes_are_refused_naming_the_field(games_db, field, value, rule):
    terms = {"user_id": "carol", "amount": 5, "lock_period_days": 7, "reward_rate": "0.05"}
    with pytest.raises(InvalidInput, match=rule) as refused:
        stake(games_db, **{**terms, field: value})
    assert refused.value.field == field
    assert get_token_balance(games_db, "carol").staked_balance == 0


def test_stakes_and_rewards_cross_2_63_and_reach_2_256_minus_1(games_db):
    big = 2**255
    fund_pool(games_db, pool="rewards", amount=2**256 - 1 - 10**12 - 4 * START_CRAP - big)
    ledger.transfer(
        games_db, debit="system:issuance", credit="user:dave", amount=big, kind="deposit",
        asset=CRAP,
    )  # fmt: skip
    stake(
        games_db, user_id="dave", amount=big, lock_period_days=365, reward_rate="0.5",
        position_id="huge", now=T0,
    )  # fmt: skip
    assert get_token_balance(games_db, "dave").staked_balance == big
    done = unstake(games_db, position_id="huge", now=T0 + timedelta(days=365))
    assert done.rewards_paid == big // 2
    assert get_token_balance(games_db, "dave").balance == START_CRAP + big + big // 2
    assert 2**63 < done.rewards_paid < 2**256 - 1
    assert ledger.check_ledger(games_db).ok


def test_a_players_token_balance_is_one_probe_of_the_owner_key(games_db):
    """token_balances WHERE user_id = ? reads one account through uq_ledger_accounts_owner,
    never every player's (games_0008): SQLite, without statistics, walked them all."""
    query = "SELECT balance FROM token_balances WHERE user_id = 'alice'"
    with games_db.read() as conn:
        if games_db.backend == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + query))
            key = "(asset_id=? AND owner_type=? AND owner_id=?)"  # its SQLite name is automatic
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + query))
            key = "uq_ledger_accounts_owner"
    assert key in plan, plan
