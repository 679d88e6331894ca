"""ledger.find_transfers and ledger.reverse: undo by compensating transfers, read from the
stored accounts, never parsed back out of a key."""

from __future__ import annotations

import pytest

from chaindb import InvalidInput, ledger
from chaindb.core import create_user

BIG = 2**256 - 1


@pytest.fixture
def colon_users(ledger_db):
    for user in ("a:b", "b", "x_y", "xay"):
        create_user(ledger_db, user, None)
    return ledger_db


def issue(db, user, amount, key):
    return ledger.transfer(
        db,
        debit="system:issuance",
        credit=f"user:{user}",
        amount=amount,
        kind="earned_challenge",
        idempotency_key=key,
    )


def test_reverse_moves_each_amount_back_between_the_stored_accounts(colon_users):
    db = colon_users
    issue(db, "a:b", BIG - 2**64, "win:7:a:b")  # a user id with ':' in a key with ':'
    issue(db, "b", 2**63 + 1, "win:7:b")
    issue(db, "b", 9, "other:7:b")
    undone = ledger.reverse(db, key_prefix="win:7:", reason="reorg")
    assert [t.amount for t in undone] == [2**63 + 1, BIG - 2**64]  # newest first
    assert {t.idempotency_key for t in undone} == {"undo:win:7:a:b", "undo:win:7:b"}
    assert ledger.get_balance(db, "user:a:b").available == 0
    assert ledger.get_balance(db, "user:b").available == 9  # the other key is left alone
    assert ledger.reverse(db, key_prefix="win:7:", reason="reorg") == undone  # once only
    assert ledger.check_ledger(db).ok


def test_a_prefix_is_matched_exactly_not_as_a_pattern(colon_users):
    db = colon_users
    issue(db, "x_y", 1, "p_1:x_y")
    issue(db, "xay", 2, "pa1:xay")
    issue(db, "b", 3, "P_1:b")
    found = ledger.find_transfers(db, key_prefix="p_1:")
    assert [t.idempotency_key for t in found] == ["p_1:x_y"]  # not 'pa1:' (LIKE's _), not 'P_1:'


def test_an_open_hold_is_voided_and_a_posted_one_moved_back(colon_users):
    db = colon_users
    issue(db, "b", 100, "fund:b")
    open_hold = ledger.transfer(
        db,
        debit="user:b",
        credit="system:escrow",
        amount=30,
        kind="locked_escrow",
        pending=True,
        idempotency_key="stake:1:b",
    )
    posted = ledger.transfer(
        db,
        debit="user:b",
        credit="system:escrow",
        amount=20,
        kind="locked_escrow",
        pending=True,
        idempotency_key="stake:2:b",
    )
    ledger.post_pending(db, posted.id, idempotency_key="stake:2:settle:b")
    assert ledger.get_balance(db, "user:b").available == 50
    undone = ledger.reverse(db, key_prefix="stake:", reason="undo")
    assert sorted(t.phase for t in undone) == ["single", "void"]
    assert ledger.get_balance(db, "user:b") == ledger.Balance(posted=100, held=0, available=100)
    assert ledger.find_transfers(db, keys=["stake:1:b"])[0].id == open_hold.id
    assert ledger.check_ledger(db).ok


def test_find_transfers_needs_a_selector_and_stays_bounded(colon_users):
    with pytest.raises(InvalidInput, match="keys"):
        ledger.find_transfers(colon_users)
    with pytest.raises(InvalidInput, match="key_prefix"):
        ledger.find_transfers(colon_users, key_prefix="")
