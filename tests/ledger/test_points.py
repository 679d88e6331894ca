"""Seed 000's points utilities and the leaderboard."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chaindb import InvalidInput, ledger


def test_ensure_user_points_ledger_creates_once(ledger_db):
    first = ledger.ensure_user_points_ledger(ledger_db, "alice")
    again = ledger.ensure_user_points_ledger(ledger_db, "alice")
    assert first.id == again.id
    assert (first.points_balance, first.total_earned, first.locked_points) == (0, 0, 0)


def test_record_points_transaction_routes_each_type(ledger_db):
    record = ledger.record_points_transaction
    record(
        ledger_db,
        user_id="alice",
        transaction_type="earned_challenge",
        amount=100,
        challenge_id=123,
        reason="Won challenge",
        blockchain_tx_hash="0x" + "12" * 32,
    )
    record(ledger_db, user_id="alice", transaction_type="burned_usage", amount=10)
    record(ledger_db, user_id="alice", transaction_type="transfer", amount=20, counterparty="bob")
    hold = record(ledger_db, user_id="alice", transaction_type="locked_escrow", amount=30)
    assert hold.phase == "pending"
    summary = ledger.ensure_user_points_ledger(ledger_db, "alice")
    assert (
        summary.points_balance,
        summary.total_earned,
        summary.total_burned,
        summary.locked_points,
    ) == (40, 100, 10, 30)
    assert summary.transaction_count == 4
    assert ledger.get_user_points_balance(ledger_db, "bob") == 20


def test_record_points_transaction_refuses_what_it_cannot_route(ledger_db):
    with pytest.raises(InvalidInput, match="transaction_type"):
        ledger.record_points_transaction(
            ledger_db, user_id="alice", transaction_type="refunded", amount=1
        )
    with pytest.raises(InvalidInput, match="counterparty"):
        ledger.record_points_transaction(
            ledger_db, user_id="alice", transaction_type="transfer", amount=1
        )


def test_update_user_points_balance_repairs_from_history(ledger_db):
    ledger.record_points_transaction(
        ledger_db, user_id="alice", transaction_type="earned_challenge", amount=70
    )
    assert ledger.update_user_points_balance(ledger_db, "alice") == 70
    wrong = "'" + "79".zfill(78) + "'" if ledger_db.backend == "sqlite" else "79"
    with ledger_db.transaction() as conn:  # damage the stored counters by hand, consistently
        conn.exec_driver_sql(
            f"UPDATE ledger_accounts SET credits_posted = {wrong}, balance = {wrong} "
            "WHERE owner_id = 'alice'"
        )
    assert not ledger.check_ledger(ledger_db).ok
    assert ledger.update_user_points_balance(ledger_db, "alice") == 70
    assert ledger.check_ledger(ledger_db).ok
    assert ledger.update_user_points_balance(ledger_db, "nobody") is None


def test_points_statistics(ledger_db):
    record = ledger.record_points_transaction
    record(ledger_db, user_id="alice", transaction_type="earned_challenge", amount=100)
    record(ledger_db, user_id="bob", transaction_type="earned_challenge", amount=50)
    record(ledger_db, user_id="bob", transaction_type="burned_usage", amount=5)
    record(ledger_db, user_id="alice", transaction_type="locked_escrow", amount=40)
    stats = ledger.get_points_statistics(ledger_db)
    assert (stats["total_issued"], stats["total_burned"]) == (150, 5)
    assert (stats["circulating"], stats["available"], stats["locked"]) == (145, 105, 40)
    assert stats["holders"] == 2
    assert stats["by_type"]["earned_challenge"] == {"count": 2, "amount": 150}


def test_history_is_paged_newest_first(ledger_db):
    for amount in range(1, 8):
        ledger.record_points_transaction(
            ledger_db, user_id="alice", transaction_type="earned_challenge", amount=amount
        )
    ledger.record_points_transaction(
        ledger_db, user_id="alice", transaction_type="transfer", amount=3, counterparty="bob"
    )
    first = ledger.get_user_points_transaction_history(ledger_db, "alice", limit=3)
    assert [(e.transaction_type, e.direction, e.amount) for e in first.items] == [
        ("transfer", "debit", 3),
        ("earned_challenge", "credit", 7),
        ("earned_challenge", "credit", 6),
    ]
    pages, cursor = [first.items], first.next_before_id
    while cursor is not None:
        page = ledger.get_user_points_transaction_history(
            ledger_db, "alice", limit=3, before_id=cursor
        )
        pages.append(page.items)
        cursor = page.next_before_id
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [e.amount for p in pages for e in p][3:] == [5, 4, 3, 2, 1]
    assert ledger.get_user_points_transaction_history(ledger_db, "nobody").items == []


def test_leaderboard_ranks_and_ties(ledger_db):
    for user, amount in (("alice", 300), ("bob", 500), ("carol", 300), ("dave", 100)):
        ledger.record_points_transaction(
            ledger_db, user_id=user, transaction_type="earned_challenge", amount=amount
        )
    board = ledger.leaderboard(ledger_db, limit=10)
    assert [(e.rank, e.user_id, e.balance) for e in board] == [
        (1, "bob", 500),
        (2, "alice", 300),
        (2, "carol", 300),
        (4, "dave", 100),
    ]
    assert [e.user_id for e in ledger.leaderboard(ledger_db, limit=2)] == ["bob", "alice"]
    assert ledger.user_rank(ledger_db, "carol") == 2
    assert ledger.user_rank(ledger_db, "dave") == 4
    assert ledger.user_rank(ledger_db, "nobody") is None


def test_seed_names_read_the_same_numbers(ledger_db):
    ledger.record_points_transaction(
        ledger_db, user_id="alice", transaction_type="earned_challenge", amount=2**70
    )
    from chaindb.ledger.schema import points_transactions, v_user_points_summary

    with ledger_db.read() as conn:
        summary = conn.execute(sa.select(v_user_points_summary)).one()
        movements = conn.execute(sa.select(points_transactions)).all()
    assert (summary.user_id, summary.username, summary.current_points) == ("alice", "alice", 2**70)
    assert [(m.user_id, m.transaction_type, m.direction, m.amount) for m in movements] == [
        ("alice", "earned_challenge", "credit", 2**70)
    ]
