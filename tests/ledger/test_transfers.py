"""Transfers: exact, double-entry, idempotent, refused whole when anything is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from chaindb import Conflict, InvalidInput, NotFound, core, ledger
from chaindb.ledger import InsufficientFunds, engine
from chaindb.types import UINT256_MAX


def issue(db, user, amount, **extra):
    return ledger.transfer(
        db,
        debit="system:issuance",
        credit=f"user:{user}",
        amount=amount,
        kind="earned_challenge",
        **extra,
    )


def balance(db, user, asset="points"):
    return ledger.get_balance(db, f"user:{user}", asset)


def transfer_count(db) -> int:
    with db.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM ledger_transfers")).scalar_one()


def test_a_transfer_moves_both_balances_in_one_step(ledger_db):
    issue(ledger_db, "alice", 100)
    moved = ledger.transfer(
        ledger_db, debit="user:alice", credit="user:bob", amount=30, kind="transfer", reason="gift"
    )
    assert (moved.amount, moved.kind, moved.phase) == (30, "transfer", "single")
    assert balance(ledger_db, "alice").available == 70
    assert balance(ledger_db, "bob").available == 30
    issuance = ledger.get_account(ledger_db, "system:issuance")
    assert (issuance.debits_posted, issuance.balance) == (100, None)  # may go "negative"


def test_amounts_cross_2_63_and_reach_2_256_minus_1_exactly(ledger_db):
    issue(ledger_db, "alice", 2**63 + 1)
    issue(ledger_db, "alice", UINT256_MAX - (2**63 + 1))
    assert balance(ledger_db, "alice").available == UINT256_MAX
    ledger.transfer(ledger_db, debit="user:alice", credit="user:bob", amount=2**63, kind="transfer")
    assert balance(ledger_db, "bob").available == 2**63
    assert balance(ledger_db, "alice").available == UINT256_MAX - 2**63
    with pytest.raises(Conflict, match="would exceed 2\\*\\*256 - 1"):
        issue(ledger_db, "alice", 2**63 + 1)
    assert ledger.check_ledger(ledger_db).ok


def test_held_amounts_past_2_256_minus_1_are_refused_and_write_nothing(ledger_db):
    hold = {"debit": "system:issuance", "credit": "user:alice", "kind": "deposit", "pending": True}
    ledger.transfer(ledger_db, **hold, amount=UINT256_MAX)
    with pytest.raises(Conflict, match=r"debits_pending of account .* 2\*\*256 - 1"):
        ledger.transfer(ledger_db, **hold, amount=1)
    with pytest.raises(Conflict, match=r"credits_pending"):
        ledger.transfer_batch(ledger_db, [{**hold, "amount": 1, "debit": "system:bonus"}])
    assert transfer_count(ledger_db) == 1
    assert ledger.check_ledger(ledger_db).ok


def test_an_overdraft_is_refused_with_a_clear_error_and_writes_nothing(ledger_db):
    issue(ledger_db, "alice", 50)
    before = transfer_count(ledger_db)
    with pytest.raises(
        InsufficientFunds, match="user:alice has 50 points available, the transfer needs 51"
    ):
        ledger.transfer(
            ledger_db, debit="user:alice", credit="user:bob", amount=51, kind="transfer"
        )
    assert transfer_count(ledger_db) == before
    assert balance(ledger_db, "alice").available == 50
    assert ledger.get_account(ledger_db, "user:bob") is None, "not even bob's account was created"


def test_the_database_refuses_an_overdraft_written_by_hand(ledger_db):
    """The balance column is a uint256: the CHECK constraint backs the rule on both backends."""
    issue(ledger_db, "alice", 5)
    negative = "'-1'" if ledger_db.backend == "sqlite" else "-1"
    with pytest.raises(sa.exc.IntegrityError), ledger_db.transaction() as conn:
        conn.exec_driver_sql(
            f"UPDATE ledger_accounts SET balance = {negative} WHERE owner_id = 'alice'"
        )


def test_the_same_idempotency_key_returns_the_first_transfer_and_changes_nothing(ledger_db):
    first = issue(ledger_db, "alice", 100, idempotency_key="challenge:7:points:alice")
    again = issue(ledger_db, "alice", 100, idempotency_key="challenge:7:points:alice")
    assert again == first
    assert balance(ledger_db, "alice").available == 100
    assert ledger.get_account(ledger_db, "user:alice").transfer_count == 1


def test_the_same_idempotency_key_with_another_payload_is_an_error(ledger_db):
    issue(ledger_db, "alice", 100, idempotency_key="k")
    with pytest.raises(Conflict, match="differs in amount"):
        issue(ledger_db, "alice", 101, idempotency_key="k")
    with pytest.raises(Conflict, match="differs in credit_account_id"):
        issue(ledger_db, "bob", 100, idempotency_key="k")
    assert balance(ledger_db, "alice").available == 100
    assert balance(ledger_db, "bob").available == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 0),
        ("amount", -5),
        ("amount", 2**256),
        ("amount", 1.5),
        ("amount", True),
        ("amount", "5.0"),
        ("debit", "alice"),
        ("debit", None),
        ("credit", "system:issuance"),  # the debit too
        ("credit", "system:Bad Name"),
        ("kind", "gift"),
        ("idempotency_key", ""),
        ("chain_tx_hash", "0x12"),
    ],
)
def test_bad_transfer_input_names_the_field_and_writes_nothing(ledger_db, field, value):
    fields = {"debit": "system:issuance", "credit": "user:alice", "amount": 5, "kind": "adjustment"}
    with pytest.raises(InvalidInput) as error:
        ledger.transfer(ledger_db, **{**fields, field: value})
    assert error.value.field == field
    assert transfer_count(ledger_db) == 0


def test_a_plain_call_and_a_full_one_write_the_same_transfer(ledger_db):
    """transfer() with accounts, amount and kind alone skips building its model: the item is
    the one the model makes, and an amount given as digits is taken as the model takes it."""
    issue(ledger_db, "alice", 100)
    plain = ledger.transfer(
        ledger_db, debit="user:alice", credit="system:escrow", amount=7, kind="transfer"
    )
    full = ledger.transfer(
        ledger_db,
        debit="user:alice",
        credit="system:escrow",
        amount="7",
        kind="transfer",
        asset="points",
        reason=None,
    )
    fields = ("asset_id", "debit_account_id", "credit_account_id", "amount", "kind", "phase")
    assert [getattr(plain, f) for f in fields] == [getattr(full, f) for f in fields]
    assert balance(ledger_db, "alice").available == 86


def test_unknown_asset_and_unknown_user_are_refused(ledger_db):
    with pytest.raises(NotFound, match="asset: 'usdc' is unknown"):
        ledger.transfer(
            ledger_db,
            debit="system:issuance",
            credit="user:alice",
            amount=1,
            kind="deposit",
            asset="usdc",
        )
    with pytest.raises(NotFound, match="does not exist"):
        issue(ledger_db, "mallory", 1)
    assert transfer_count(ledger_db) == 0


def test_a_batch_is_all_or_nothing(ledger_db):
    issue(ledger_db, "alice", 100)
    good = {"debit": "user:alice", "credit": "user:bob", "amount": 60, "kind": "transfer"}
    overdraw = {"debit": "user:alice", "credit": "user:carol", "amount": 60, "kind": "transfer"}
    with pytest.raises(InsufficientFunds):
        ledger.transfer_batch(ledger_db, [good, overdraw])
    assert balance(ledger_db, "alice").available == 100
    assert balance(ledger_db, "bob").available == 0
    written = ledger.transfer_batch(ledger_db, [good, {**overdraw, "amount": 40}])
    assert [t.amount for t in written] == [60, 40]
    assert balance(ledger_db, "alice").available == 0


def test_a_batch_without_a_savepoint_joins_the_callers_transaction(ledger_db):
    issue(ledger_db, "alice", 100)
    issue(ledger_db, "bob", 1)  # (a new account is created under a savepoint of its own)
    move = {"debit": "user:alice", "credit": "user:bob", "amount": 60, "kind": "transfer"}
    savepoints = []
    listen = lambda conn, name: savepoints.append(name)  # noqa: E731
    sa.event.listen(ledger_db.engine, "savepoint", listen)
    try:
        with pytest.raises(InsufficientFunds), ledger_db.transaction() as conn:
            ledger.transfer_batch(conn, [move], savepoint=False)
            ledger.transfer_batch(conn, [move], savepoint=False)  # the caller rolls back whole
        assert balance(ledger_db, "bob").available == 1
        with ledger_db.transaction() as conn:
            ledger.transfer_batch(conn, [move], savepoint=False)
        assert savepoints == []
    finally:
        sa.event.remove(ledger_db.engine, "savepoint", listen)
    assert balance(ledger_db, "bob").available == 61


def test_a_batch_touching_1100_accounts_keeps_every_balance(ledger_db):
    # 1,100 users + issuance, amounts past 2**64: every account's counters are stored.
    users = [f"many{n}" for n in range(1_100)]
    with ledger_db.transaction() as conn:
        for user in users:
            core.create_user(conn, user)
    written = ledger.transfer_batch(
        ledger_db,
        [
            {
                "debit": "system:issuance",
                "credit": f"user:{user}",
                "amount": 2**64 + n,
                "kind": "deposit",
            }
            for n, user in enumerate(users)
        ],
    )
    assert len({t.id for t in written}) == 1_100
    assert [balance(ledger_db, user).available for user in (users[0], users[1_023], users[-1])] == [
        2**64,
        2**64 + 1_023,
        2**64 + 1_099,
    ]
    assert ledger.check_ledger(ledger_db).ok


def test_a_batch_stores_exactly_what_single_transfers_store(ledger_db):
    # Batches and single transfers take different statements (PostgreSQL: one INSERT from
    # arrays against an INSERT ... VALUES): every column must come out the same.
    in_two_hours = datetime.now(timezone(timedelta(hours=5))) + timedelta(hours=2)
    hold = {
        "debit": "user:alice",
        "credit": "user:bob",
        "amount": 2**64 + 3,
        "kind": "locked_escrow",
        "pending": True,
        "expires_at": in_two_hours,
        "reason": "stake",
        "challenge_id": 7,
        "chain_tx_hash": "0x" + "AB" * 32,
    }
    deposit = {"debit": "system:issuance", "credit": "user:alice", "amount": 2**200}
    gift = {"debit": "user:alice", "credit": "user:carol", "amount": 1, "reason": ""}
    requests = [{**deposit, "kind": "deposit"}, hold, {**gift, "kind": "transfer"}]
    singles = [
        ledger.transfer(ledger_db, **request, idempotency_key=f"s{n}")
        for n, request in enumerate(requests)
    ]
    batch = ledger.transfer_batch(
        ledger_db, [{**request, "idempotency_key": f"b{n}"} for n, request in enumerate(requests)]
    )
    compared = ("amount", "kind", "phase", "expires_at", "reason", "challenge_id", "chain_tx_hash")
    for single, batched in zip(singles, batch, strict=True):
        stored_single = ledger.get_transfer(ledger_db, single.id)
        stored_batched = ledger.get_transfer(ledger_db, batched.id)
        for name in compared:
            assert getattr(stored_batched, name) == getattr(stored_single, name), name
            assert getattr(batched, name) == getattr(stored_batched, name), name
    stored_hold = ledger.get_transfer(ledger_db, batch[1].id)
    assert stored_hold.chain_tx_hash == "0x" + "ab" * 32
    assert stored_hold.expires_at == in_two_hours and stored_hold.expires_at.tzinfo is UTC
    assert ledger.get_transfer(ledger_db, batch[2].id).reason == ""
    assert ledger.check_ledger(ledger_db).ok


def test_every_transfer_of_a_long_batch_is_stored_as_returned_in_order(ledger_db):
    # SQLite inserts a batch 70 to 120 rows a statement (as many as its parameter limit
    # allows), PostgreSQL in one COPY: whichever statement carried a row, it is stored as
    # returned. Every third request sets the optional columns, so the rows have all 14.
    for n in range(10):
        core.create_user(ledger_db, f"u{n}")
    requests = []
    for n in range(300):
        request = {
            "debit": "system:issuance",
            "credit": f"user:u{n % 10}",
            "amount": 2**63 + n,
            "kind": "deposit",
        }
        if n % 3 == 0:
            request |= {"reason": f"r{n}", "idempotency_key": f"k{n}", "challenge_id": n + 1}
        requests.append(request)
    requests[150]["amount"] = 2**255
    written = ledger.transfer_batch(ledger_db, requests)
    assert [t.id for t in written] == list(range(written[0].id, written[0].id + 300))
    assert [t.amount for t in written] == [request["amount"] for request in requests]
    assert [ledger.get_transfer(ledger_db, t.id) for t in written] == written
    assert balance(ledger_db, "u0").available == 2**255 + sum(
        2**63 + n for n in range(0, 300, 10)
    ) - (2**63 + 150)
    assert ledger.check_ledger(ledger_db).ok


def test_a_bad_item_in_a_batch_names_its_position(ledger_db):
    with pytest.raises(InvalidInput, match=r"requests\[1\]\.amount"):
        ledger.transfer_batch(
            ledger_db,
            [
                {
                    "debit": "system:issuance",
                    "credit": "user:alice",
                    "amount": 1,
                    "kind": "deposit",
                },
                {
                    "debit": "system:issuance",
                    "credit": "user:alice",
                    "amount": -1,
                    "kind": "deposit",
                },
            ],
        )
    assert transfer_count(ledger_db) == 0


def test_the_first_bad_item_of_a_mixed_batch_is_named_and_nothing_is_written(ledger_db):
    deposit = {"debit": "system:issuance", "credit": "user:alice", "amount": 5, "kind": "deposit"}
    bad_void = {"action": "void", "pending_id": 0}
    bad_transfer = {**deposit, "kind": "gift"}
    with pytest.raises(InvalidInput, match=r"requests\[1\]\.pending_id") as error:
        ledger.transfer_batch(ledger_db, [deposit, bad_void, bad_transfer])
    assert error.value.value == 0
    with pytest.raises(InvalidInput, match=r"requests\[2\]\.kind"):
        ledger.transfer_batch(ledger_db, [deposit, deposit, bad_transfer, bad_void])
    with pytest.raises(InvalidInput, match=r"requests\[0\]\.action"):
        ledger.transfer_batch(ledger_db, [{**deposit, "action": "send"}])
    with pytest.raises(InvalidInput, match=r"requests\[1\]\.surplus"):
        ledger.transfer_batch(ledger_db, [deposit, {**deposit, "surplus": 1}])
    with pytest.raises(InvalidInput, match=r"requests\[1\]: 'user:bob' .* a mapping"):
        ledger.transfer_batch(ledger_db, [deposit, "user:bob"])
    assert transfer_count(ledger_db) == 0


def test_token_assets_keep_their_own_balances(ledger_db):
    usdc = ledger.ensure_token_asset(
        ledger_db,
        chain_id=84532,
        token_address="0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        symbol="USDC",
        decimals=6,
    )
    assert usdc.code == "eip155:84532/0x036cbd53842c5426634e7929541ec2318f3dcf7e"
    ledger.transfer(
        ledger_db,
        asset=usdc.code,
        debit="system:issuance",
        credit="user:alice",
        amount=5_000_000,
        kind="deposit",
    )
    assert balance(ledger_db, "alice", usdc.code).available == 5_000_000
    assert balance(ledger_db, "alice").available == 0
    with pytest.raises(InvalidInput, match="decimals"):
        ledger.ensure_token_asset(
            ledger_db, chain_id=84532, token_address=usdc.token_address, symbol="USDC", decimals=18
        )


# --- two-phase transfers ----------------------------------------------------------------------


def hold(db, user, amount, **extra):
    return ledger.transfer(
        db,
        debit=f"user:{user}",
        credit="system:escrow",
        amount=amount,
        kind="locked_escrow",
        pending=True,
        **extra,
    )


def test_a_hold_reduces_what_can_be_spent(ledger_db):
    issue(ledger_db, "alice", 100)
    hold(ledger_db, "alice", 70)
    assert balance(ledger_db, "alice") == ledger.Balance(posted=100, held=70, available=30)
    with pytest.raises(InsufficientFunds):
        ledger.transfer(
            ledger_db, debit="user:alice", credit="user:bob", amount=31, kind="transfer"
        )


def test_posting_a_hold_moves_it_and_a_partial_post_releases_the_rest(ledger_db):
    issue(ledger_db, "alice", 100)
    held = hold(ledger_db, "alice", 70)
    posted = ledger.post_pending(ledger_db, held.id, amount=50)
    assert (posted.phase, posted.amount, posted.pending_id) == ("post", 50, held.id)
    assert balance(ledger_db, "alice") == ledger.Balance(posted=50, held=0, available=50)
    assert ledger.get_account(ledger_db, "system:escrow").balance == 50


def test_voiding_a_hold_gives_it_back(ledger_db):
    issue(ledger_db, "alice", 100)
    held = hold(ledger_db, "alice", 70)
    ledger.void_pending(ledger_db, held.id)
    assert balance(ledger_db, "alice") == ledger.Balance(posted=100, held=0, available=100)
    assert ledger.get_account(ledger_db, "system:escrow").credits_pending == 0


def test_a_hold_is_posted_or_voided_once(ledger_db):
    issue(ledger_db, "alice", 100)
    held = hold(ledger_db, "alice", 70)
    ledger.post_pending(ledger_db, held.id)
    for settle in (ledger.post_pending, ledger.void_pending):
        with pytest.raises(Conflict, match="already posted or voided"):
            settle(ledger_db, held.id)
    assert balance(ledger_db, "alice").available == 30


def test_posting_more_than_held_or_a_non_hold_is_refused(ledger_db):
    issue(ledger_db, "alice", 100)
    held = hold(ledger_db, "alice", 70)
    with pytest.raises(InvalidInput, match="held amount 70"):
        ledger.post_pending(ledger_db, held.id, amount=71)
    plain = issue(ledger_db, "alice", 1)
    with pytest.raises(InvalidInput, match="not a pending transfer"):
        ledger.void_pending(ledger_db, plain.id)
    with pytest.raises(NotFound):
        ledger.void_pending(ledger_db, 999_999)


def test_an_expired_hold_cannot_be_posted_and_reads_treat_it_as_void(ledger_db):
    issue(ledger_db, "alice", 100)
    past = datetime.now(UTC) - timedelta(seconds=1)
    held = hold(ledger_db, "alice", 70, expires_at=past)
    assert balance(ledger_db, "alice").available == 100, "expired holds count as released"
    with pytest.raises(Conflict, match="expired"):
        ledger.post_pending(ledger_db, held.id)


def test_spending_past_an_expired_hold_voids_it_first(ledger_db):
    issue(ledger_db, "alice", 100)
    held = hold(ledger_db, "alice", 70, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    ledger.transfer(ledger_db, debit="user:alice", credit="user:bob", amount=90, kind="transfer")
    assert balance(ledger_db, "alice").available == 10
    with pytest.raises(Conflict, match="already posted or voided"):
        ledger.void_pending(ledger_db, held.id)
    assert ledger.check_ledger(ledger_db).ok


def test_expire_holds_sweeps_only_what_is_due(ledger_db):
    issue(ledger_db, "alice", 100)
    hold(ledger_db, "alice", 10, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    hold(ledger_db, "alice", 20, expires_at=datetime.now(UTC) + timedelta(hours=1))
    hold(ledger_db, "alice", 30)
    assert ledger.expire_holds(ledger_db) == 1
    assert ledger.expire_holds(ledger_db) == 0
    assert balance(ledger_db, "alice").held == 50


def test_settling_a_hold_is_idempotent_by_key(ledger_db):
    issue(ledger_db, "alice", 100)
    held = hold(ledger_db, "alice", 70)
    first = ledger.post_pending(ledger_db, held.id, idempotency_key="settle:1")
    assert ledger.post_pending(ledger_db, held.id, idempotency_key="settle:1") == first
    with pytest.raises(Conflict, match="differs in kind, phase"):
        ledger.void_pending(ledger_db, held.id, idempotency_key="settle:1")


def test_hold_with_writes_the_callers_rows_with_the_hold(ledger_db):
    issue(ledger_db, "alice", 100)
    request = {"debit": "user:alice", "credit": "system:escrow", "amount": 40,
               "kind": "locked_escrow", "pending": True}  # fmt: skip
    noted = ledger.RowsWithHold("noted AS (INSERT INTO held_notes VALUES (:hold_id))", (), {})
    with ledger_db.transaction() as conn:
        if ledger_db.backend == "sqlite":  # one statement there saves no round trip
            with pytest.raises(InvalidInput, match=r"conn: .* must be PostgreSQL"):
                ledger.hold_with(conn, request, noted)
            return
        conn.execute(sa.text("CREATE TEMPORARY TABLE held_notes (hold_id BIGINT)"))
        with pytest.raises(InvalidInput, match=r"request: .* must be a hold"):
            ledger.hold_with(conn, {**request, "pending": False}, noted)
        held = ledger.hold_with(conn, request, noted)
        assert conn.execute(sa.text("SELECT hold_id FROM held_notes")).scalar_one() == held.id
    assert balance(ledger_db, "alice") == ledger.Balance(posted=100, held=40, available=60)


def test_hold_with_takes_the_asset_id_its_caller_read(ledger_db, monkeypatch):
    """asset_id_sql read in the caller's own statement spares hold_with its lookup."""
    if ledger_db.backend == "sqlite":
        pytest.skip("hold_with is PostgreSQL's alone")
    gold = ledger.ensure_app_asset(ledger_db, code="test/gold", symbol="GLD", decimals=0)
    issue(ledger_db, "alice", 100, asset="test/gold")
    request = {"debit": "user:alice", "credit": "system:escrow", "amount": 2**70,
               "kind": "locked_escrow", "pending": True, "asset": "test/gold"}  # fmt: skip
    nothing = ledger.RowsWithHold("noted AS (SELECT :hold_id)", (), {})
    with ledger_db.transaction() as conn:
        read = conn.execute(
            sa.select(ledger.asset_id_sql("test/gold"), ledger.asset_id_sql("test/tin"))
        )
        gold_id, unknown_id = read.one()
        assert (gold_id, unknown_id) == (gold.id, None)
        with pytest.raises(ledger.InsufficientFunds):  # 2**70 > 100: the gold account's balance
            ledger.hold_with(conn, request, nothing, asset_id=gold_id)
    with monkeypatch.context() as patched, ledger_db.transaction() as conn:
        patched.setattr(engine, "asset_ids", _no_lookup)
        held = ledger.hold_with(conn, {**request, "amount": 30}, nothing, asset_id=gold_id)
    assert held.asset_id == gold.id
    assert balance(ledger_db, "alice", asset="test/gold").held == 30


@pytest.mark.parametrize("code", ["it's", "back\\slash"])
def test_asset_id_sql_refuses_a_code_it_would_have_to_escape(code):
    with pytest.raises(InvalidInput, match=r"asset: .* no quote or backslash"):
        ledger.asset_id_sql(code)


def _no_lookup(conn, codes):
    raise AssertionError(f"looked up {codes}: hold_with was given the id")
