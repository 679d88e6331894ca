"""What the ledger refuses at its edge, alike on SQLite and PostgreSQL, and how a batch names
the request at fault. Nothing is written when anything is refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chaindb import Conflict, InvalidInput, NotFound, ledger

ISSUE = {"debit": "system:issuance", "credit": "user:alice", "amount": 100, "kind": "deposit"}


def transfer_count(db) -> int:
    with db.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM ledger_transfers")).scalar_one()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": "gift\x00"}, "reason"),
        ({"idempotency_key": "k\x00"}, "idempotency_key"),
        ({"idempotency_key": "k\u202e"}, "idempotency_key"),
        ({"idempotency_key": "k\n"}, "idempotency_key"),
        ({"credit": "user:al\x00ice"}, "credit"),
        ({"credit": "user:alice\u200b"}, "credit"),
        ({"asset": "points\x00"}, "asset"),
        ({"challenge_id": 2**63}, "challenge_id"),
    ],
)
def test_a_transfer_with_nul_or_control_characters_is_refused_alike(ledger_db, changes, field):
    """SQLite stored NUL; PostgreSQL raised a raw DataError with SQL in its message."""
    with pytest.raises(InvalidInput) as error:
        ledger.transfer(ledger_db, **{**ISSUE, **changes})
    assert error.value.field == field
    with pytest.raises(InvalidInput) as error:
        ledger.transfer_batch(ledger_db, [ISSUE, {**ISSUE, **changes}])
    assert error.value.field == f"requests[1].{field}"
    assert transfer_count(ledger_db) == 0


def test_a_reason_keeps_newlines_and_tabs(ledger_db):
    moved = ledger.transfer(ledger_db, **ISSUE, reason="line one\n\tline two")
    assert ledger.get_transfer(ledger_db, moved.id).reason == "line one\n\tline two"


def test_a_batch_names_the_position_of_a_transfer_to_itself(ledger_db):
    to_itself = {**ISSUE, "debit": "user:bob", "credit": "user:bob"}
    with pytest.raises(InvalidInput) as error:
        ledger.transfer_batch(ledger_db, [ISSUE, to_itself])
    assert (error.value.field, error.value.rule) == ("requests[1].credit", "must differ from debit")
    with pytest.raises(InvalidInput) as error:
        ledger.transfer(ledger_db, **to_itself)
    assert error.value.field == "credit"
    assert transfer_count(ledger_db) == 0


def test_a_batch_names_the_position_of_an_expiry_without_a_hold(ledger_db):
    expiring = {**ISSUE, "expires_at": "2030-01-01T00:00:00+00:00"}
    with pytest.raises(InvalidInput) as error:
        ledger.transfer_batch(ledger_db, [ISSUE, ISSUE, expiring])
    assert (error.value.field, error.value.rule) == (
        "requests[2].expires_at",
        "only a pending transfer expires",
    )
    assert transfer_count(ledger_db) == 0


def test_a_batch_names_the_position_of_what_the_database_decides(ledger_db):
    """Rules that need the stored rows (the held amount, whether an id is a hold) are
    checked while the batch is planned: they too name the request."""
    ledger.transfer(ledger_db, **ISSUE)
    hold = ledger.transfer(
        ledger_db,
        debit="user:alice",
        credit="system:escrow",
        amount=40,
        kind="locked_escrow",
        pending=True,
    )
    single = ledger.transfer(
        ledger_db, debit="user:alice", credit="user:bob", amount=1, kind="transfer"
    )
    before = transfer_count(ledger_db)
    cases = [
        (
            {"action": "post", "pending_id": hold.id, "amount": 41},
            InvalidInput,
            "requests[1].amount",
        ),
        ({"action": "void", "pending_id": single.id}, InvalidInput, "requests[1].pending_id"),
        ({"action": "void", "pending_id": 10**9}, NotFound, "requests[1]: pending_id"),
    ]
    for request, error_type, named in cases:
        with pytest.raises(error_type) as error:
            ledger.transfer_batch(ledger_db, [ISSUE, request])
        assert str(error.value).startswith(named)
    ledger.void_pending(ledger_db, hold.id)
    with pytest.raises(Conflict, match=r"^requests\[0\]: pending_id"):
        ledger.transfer_batch(ledger_db, [{"action": "post", "pending_id": hold.id}])
    assert transfer_count(ledger_db) == before + 1  # the void alone


def test_a_single_request_is_named_by_its_field_alone(ledger_db):
    with pytest.raises(InvalidInput) as error:
        ledger.post_pending(ledger_db, ledger.transfer(ledger_db, **ISSUE).id)
    assert error.value.field == "pending_id"
    with pytest.raises(NotFound, match=r"^pending_id"):
        ledger.void_pending(ledger_db, 10**9)


@pytest.mark.parametrize("limit", ["10", 10.0, True, None, 0, 1001])
def test_a_leaderboard_limit_must_be_an_integer_in_range(ledger_db, limit):
    """limit="10" was a TypeError."""
    with pytest.raises(InvalidInput) as error:
        ledger.leaderboard(ledger_db, limit=limit)
    assert error.value.field == "limit"
    with pytest.raises(InvalidInput, match="limit"):
        ledger.get_user_points_transaction_history(ledger_db, "alice", limit=limit)


@pytest.mark.parametrize(
    "lookup",
    [
        lambda db: ledger.leaderboard(db, asset="points\x00"),
        lambda db: ledger.user_rank(db, "al\x00ice"),
        lambda db: ledger.get_balance(db, "user:al\x00ice"),
        lambda db: ledger.get_balance(db, "user:alice", "points\x00"),
        lambda db: ledger.get_user_points_transaction_history(db, "al\x00ice"),
    ],
)
def test_a_lookup_with_nul_is_refused_alike(ledger_db, lookup):
    with pytest.raises(InvalidInput):
        lookup(ledger_db)
