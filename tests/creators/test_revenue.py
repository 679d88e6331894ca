"""Revenue through the ledger: sales and tips into the creator's pool, counted once per key;
the monthly figures; the REVENUE milestone; quarterly distributions split exactly, once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chaindb import InvalidInput, creators, ledger
from chaindb.ledger import InsufficientFunds

FIL = 10**18
MARCH = datetime(2025, 3, 10, 12, tzinfo=UTC)  # 2025-Q1: over


def fund(db, user, amount):
    ledger.transfer(
        db,
        debit="system:issuance",
        credit=f"user:{user}",
        amount=amount,
        kind="deposit",
        asset=creators.revenue_asset(db),
    )


def balance(db, account):
    return ledger.get_balance(db, account, creators.revenue_asset(db)).available


def test_sales_and_tips_land_in_the_pool_once_per_key_and_make_the_monthly_figures(platform):
    db, creator = platform.db, platform.creator
    premium = creators.create_track(
        db,
        creator_id=creator.id,
        title="Gold",
        duration_s=90,
        file_cid=platform.tracks[0].file_cid,
        price_wei=3 * FIL,
    )
    fund(db, "alice", 10 * FIL)
    creators.buy_track(db, track_id=premium.id, buyer_id="alice", idempotency_key="order-1")
    creators.buy_track(db, track_id=premium.id, buyer_id="alice", idempotency_key="order-1")
    creators.tip_creator(
        db, creator_id=creator.id, fan_id="alice", amount_wei=FIL // 2, idempotency_key="tip-1"
    )
    assert balance(db, "user:alice") == 10 * FIL - 3 * FIL - FIL // 2
    assert balance(db, creators.pool_account(creator.id)) == 3 * FIL + FIL // 2
    month = creators.monthly_revenue(db, creator.id)
    assert (month.track_sales_wei, month.tips_wei, month.coin_value_wei) == (3 * FIL, FIL // 2, 0)
    with pytest.raises(InvalidInput, match="not a premium track"):
        creators.buy_track(
            db, track_id=platform.tracks[0].id, buyer_id="alice", idempotency_key="x"
        )
    with pytest.raises(InsufficientFunds):
        creators.tip_creator(
            db, creator_id=creator.id, fan_id="bob", amount_wei=1, idempotency_key="t"
        )
    assert creators.monthly_revenue(db, creator.id).total_wei == 3 * FIL + FIL // 2


def test_a_hundred_fil_in_a_month_is_the_revenue_milestone_and_enables_sharing(platform):
    db, creator = platform.db, platform.creator
    fund(db, "alice", 2**200)  # amounts past 2**63 stay exact
    creators.tip_creator(
        db,
        creator_id=creator.id,
        fan_id="alice",
        amount_wei=99 * FIL,
        idempotency_key="a",
        received_at=MARCH,
    )
    assert not creators.get_creator(db, creator.id).revenue_sharing
    creators.tip_creator(
        db,
        creator_id=creator.id,
        fan_id="alice",
        amount_wei=2**70,
        idempotency_key="b",
        received_at=MARCH,
    )
    creators.tip_creator(
        db,
        creator_id=creator.id,
        fan_id="alice",
        amount_wei=FIL,
        idempotency_key="c",
        received_at=MARCH,
    )
    (milestone,) = creators.get_milestones(db, creator.id)
    assert (milestone.kind, milestone.period, milestone.current_value) == (
        "REVENUE",
        "2025-03",
        99 * FIL + 2**70,
    )
    assert creators.get_creator(db, creator.id).revenue_sharing
    march = creators.monthly_revenue(db, creator.id, month=MARCH.date())
    assert march.tips_wei == 100 * FIL + 2**70


def test_a_quarter_is_split_exactly_among_holders_and_the_creator_once(platform):
    db, creator = platform.db, platform.creator
    fund(db, "alice", 1_000 * FIL)
    total = 100 * FIL + 7  # the revenue milestone: sharing on
    creators.tip_creator(
        db,
        creator_id=creator.id,
        fan_id="alice",
        amount_wei=total,
        idempotency_key="q1",
        received_at=MARCH,
    )
    holdings = {"bob": 1, "carol": 1, "dave": 1}  # thirds: units left over
    first = creators.distribute_revenue(
        db, creator_id=creator.id, quarter="2025-Q1", holdings=holdings
    )
    to_holders = total // 10
    assert (first.total_revenue_wei, first.holder_share_wei, first.holder_count) == (
        total,
        to_holders,
        3,
    )
    assert first.creator_share_wei == total - to_holders
    paid = {user: balance(db, f"user:{user}") for user in holdings}
    assert sum(paid.values()) == to_holders and max(paid.values()) - min(paid.values()) <= 1
    assert paid["bob"] >= paid["dave"]  # the leftover unit goes to the smaller id first
    assert balance(db, "user:mira") == total - to_holders
    assert balance(db, creators.pool_account(creator.id)) == 0
    again = creators.distribute_revenue(
        db, creator_id=creator.id, quarter="2025-Q1", holdings=holdings
    )
    assert again == first and balance(db, "user:mira") == total - to_holders
    assert creators.get_distributions(db, creator.id) == [first]
    assert ledger.check_ledger(db).ok


@pytest.mark.parametrize(
    ("amount", "holdings", "shares"),
    [
        (10, {"a": 1, "b": 1, "c": 1}, {"a": 4, "b": 3, "c": 3}),
        (10, {"a": 1, "b": 2}, {"a": 3, "b": 7}),  # 3.33 and 6.67: the larger remainder
        (2**256 - 1, {"a": 1, "b": 1}, {"a": 2**255, "b": 2**255 - 1}),
        (5, {"a": 0, "b": 3}, {"b": 5}),
        (0, {"a": 1}, {}),
    ],
)
def test_pro_rata_split_adds_up_exactly(amount, holdings, shares):
    assert creators.split_pro_rata(amount, holdings) == shares


def test_a_quarter_not_over_or_misspelt_is_refused(platform):
    with pytest.raises(InvalidInput, match="has not ended"):
        creators.distribute_revenue(
            db := platform.db, creator_id=platform.creator.id, quarter="2999-Q1"
        )
    for bad in ("2025-Q5", "2025Q1", "Q1-2025"):
        with pytest.raises(InvalidInput, match="YYYY-Qn"):
            creators.distribute_revenue(db, creator_id=platform.creator.id, quarter=bad)
