"""The leaderboard's board (ledger_leaderboard) against a recomputation from ledger_accounts:
after random transfers, holds and batches that move balances into, within and out of the top
range, with floors moved up and down, under concurrent writers, and across its migration."""

from __future__ import annotations

import importlib
import random
import threading

import pytest
import sqlalchemy as sa

from chaindb import core, ledger, migrations
from chaindb.errors import NotFound
from chaindb.ledger.schema import ACCOUNT_COUNTERS
from chaindb.types import UINT256_MAX
from tests.conftest import statistics_targets

# The module (the package exports its function under the same name).
board = importlib.import_module("chaindb.ledger.leaderboard")
accounts = importlib.import_module("chaindb.ledger.accounts")
USERS = 40
START = 2**200  # far past 64 bits, and room for transfers of up to 2**250 to go through


@pytest.fixture
def small_band(monkeypatch: pytest.MonkeyPatch) -> None:
    """A board of 6 to 12 entries (8 after a move), checked after every 5 transfers: with
    USERS accounts, balances enter and leave its range all the time."""
    monkeypatch.setattr(board, "BOARD_ENTRIES_MIN", 6)
    monkeypatch.setattr(board, "BOARD_ENTRIES_TARGET", 8)
    monkeypatch.setattr(board, "BOARD_ENTRIES_MAX", 12)
    monkeypatch.setattr(board, "BOARD_CHECK_EVERY", 5)


def fund(db, users: int = USERS, amount: int = START) -> None:
    for n in range(users):
        core.create_user(db, f"u{n}", f"user {n}")
    ledger.transfer_batch(
        db,
        [
            {"debit": "system:issuance", "credit": f"user:u{n}", "amount": amount + n,
             "kind": "deposit"}
            for n in range(users)
        ],
    )  # fmt: skip


def recomputed(db, asset_id: int = 1) -> list[tuple[int, str, int]]:
    """(rank, user, balance) for every user account, from ledger_accounts alone."""
    with db.read() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT owner_id, balance, id FROM ledger_accounts "
                "WHERE asset_id = :a AND owner_type = 'user' AND balance IS NOT NULL"
            ),
            {"a": asset_id},
        ).all()
    ordered = sorted(((int(balance), -i, owner) for owner, balance, i in rows), reverse=True)
    ranked, rank, previous = [], 0, None
    for position, (balance, _i, owner) in enumerate(ordered, start=1):
        if balance != previous:
            rank, previous = position, balance
        ranked.append((rank, owner, balance))
    return ranked


def assert_exact(db) -> None:
    expected = recomputed(db)
    for limit in (1, 5, 7, 13, len(expected) + 3):
        got = [(e.rank, e.user_id, e.balance) for e in ledger.leaderboard(db, limit=limit)]
        assert got == expected[:limit]
    for rank, user, _balance in expected[:: max(1, len(expected) // 7)]:
        assert ledger.user_rank(db, user) == rank
    with db.read() as conn:
        assert board.board_problems(conn) == []


def random_step(db, rng: random.Random) -> None:
    a, b = rng.sample(range(USERS), 2)
    amount = rng.choice([1, rng.randint(1, 2**64), rng.randint(1, 2**199), 2**250])
    what = rng.random()
    try:
        if what < 0.6:
            ledger.transfer(db, debit=f"user:u{a}", credit=f"user:u{b}", amount=amount,
                            kind="transfer")  # fmt: skip
        elif what < 0.75:
            hold = ledger.transfer(db, debit=f"user:u{a}", credit="system:escrow",
                                   amount=amount, kind="locked_escrow", pending=True)  # fmt: skip
            if rng.random() < 0.5:
                ledger.post_pending(db, hold.id, amount=rng.randint(1, amount))
            else:
                ledger.void_pending(db, hold.id)
        elif what < 0.85:
            ledger.transfer_batch(db, [
                {"debit": f"user:u{x}", "credit": f"user:u{y}", "amount": rng.randint(1, 2**190),
                 "kind": "transfer"}
                for x, y in (rng.sample(range(USERS), 2) for _ in range(rng.randint(2, 30)))
            ])  # fmt: skip
        elif what < 0.95:
            ledger.transfer(db, debit=f"user:u{a}", credit="system:burn", amount=amount,
                            kind="burned_usage")  # fmt: skip
        else:
            ledger.transfer(db, debit="system:issuance", credit=f"user:u{a}", amount=amount,
                            kind="earned_challenge")  # fmt: skip
    except ledger.InsufficientFunds:
        pass


@pytest.mark.parametrize("seed", [1, 2])
def test_the_board_equals_a_recomputation_after_random_transfers(core_db, small_band, seed):
    fund(core_db)
    rng = random.Random(seed)
    for step in range(150):
        random_step(core_db, rng)
        if step % 25 == 0:
            assert_exact(core_db)
    assert_exact(core_db)
    report = ledger.check_ledger(core_db)
    assert report.ok, report.problems()


def test_balances_leave_the_top_range_and_the_floor_moves_both_ways(core_db, small_band):
    fund(core_db)
    board.rebalance(core_db, 1)  # 40 entries: the floor rises, 8 are left
    assert_exact(core_db)
    with core_db.read() as conn:
        assert board.board_size(conn, 1, up_to=100) == 8
    # The top eight spend everything: each leaves the board, which runs short, then refills.
    for user in recomputed(core_db)[:8]:
        ledger.transfer(core_db, debit=f"user:{user[1]}", credit="system:burn",
                        amount=user[2], kind="burned_usage")  # fmt: skip
        assert_exact(core_db)
    board.rebalance(core_db, 1)
    assert_exact(core_db)
    with core_db.read() as conn:
        assert 6 <= board.board_size(conn, 1, up_to=100) <= 12
    assert [e.balance for e in ledger.leaderboard(core_db, limit=40)][-8:] == [0] * 8


def test_accounts_created_in_bulk_reach_the_board_only_once_funded(
    core_db, small_band, monkeypatch
):
    """A batch that creates accounts in bulk closes their asset's board first (else every new
    account, and every deposit funding it, entered the board, leaving its index ~10x its
    packed size) and refills it before its commit: in the writer's own transaction the board
    is already in its band, before any rebalance."""
    monkeypatch.setattr(accounts, "ACCOUNTS_CREATED_IN_BULK_MIN", 20)
    for n in range(USERS):
        core.create_user(core_db, f"u{n}", f"user {n}")
    deposits = [
        {"debit": "system:issuance", "credit": f"user:u{n}", "amount": START + n,
         "kind": "deposit"}
        for n in range(USERS)
    ]  # fmt: skip
    with core_db.transaction() as conn:
        ledger.transfer_batch(conn, deposits)
        assert board.board_size(conn, 1, up_to=100) == 8
    assert_exact(core_db)
    assert [e.user_id for e in ledger.leaderboard(core_db, limit=3)] == ["u39", "u38", "u37"]
    # A second bulk creation, under a floor that is no longer closed: the same.
    for n in range(USERS, 2 * USERS):
        core.create_user(core_db, f"u{n}", f"user {n}")
    ledger.transfer_batch(core_db, [
        {"debit": "system:issuance", "credit": f"user:u{n}", "amount": n, "kind": "deposit"}
        for n in range(USERS, 2 * USERS)
    ])  # fmt: skip
    assert_exact(core_db)


def test_ties_share_a_rank_near_the_top_of_uint256(core_db, small_band):
    high = 2**255 - 8  # two of them and the rest stay within what issuance can count
    for user in ("a", "b", "c", "d"):
        core.create_user(core_db, user)
    for user, amount in (("a", high), ("b", high), ("c", 7), ("d", 7)):
        ledger.transfer(core_db, debit="system:issuance", credit=f"user:{user}", amount=amount,
                        kind="deposit")  # fmt: skip
    board_now = ledger.leaderboard(core_db, limit=10)
    assert [(e.rank, e.user_id, e.balance) for e in board_now] == [
        (1, "a", high), (1, "b", high), (3, "c", 7), (3, "d", 7),
    ]  # fmt: skip
    assert ledger.user_rank(core_db, "d") == 3


def test_a_balance_of_2_256_minus_1_sorts_exactly(core_db, small_band):
    for user in ("a", "b"):
        core.create_user(core_db, user)
    ledger.transfer(core_db, debit="system:issuance", credit="user:a", amount=UINT256_MAX,
                    kind="deposit")  # fmt: skip
    ledger.transfer(core_db, debit="user:a", credit="user:b", amount=UINT256_MAX - 1,
                    kind="transfer")  # fmt: skip
    assert [(e.user_id, e.balance) for e in ledger.leaderboard(core_db)] == [
        ("b", UINT256_MAX - 1), ("a", 1),
    ]  # fmt: skip
    assert_exact(core_db)


def test_the_board_and_only_the_board_serves_the_top(ledger_db):
    """No index of ledger_accounts holds a column a transfer changes (so that, on
    PostgreSQL, an account update can be HOT); the top is read from the board's index."""
    with ledger_db.read() as conn:
        indexed = {
            column
            for index in sa.inspect(conn).get_indexes("ledger_accounts")
            for column in index["column_names"]
        }
        assert indexed.isdisjoint({*ACCOUNT_COUNTERS, "updated_at"})
        query = (
            "SELECT user_id FROM ledger_leaderboard WHERE asset_id = 1 "
            "ORDER BY balance DESC, account_id LIMIT 100"
        )
        if ledger_db.backend == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + query))
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + query))
    assert "ix_ledger_leaderboard_rank" in plan
    assert "TEMP B-TREE" not in plan.upper()


def test_postgres_sets_fillfactor_and_autovacuum_on_accounts(pg_url):
    import chaindb

    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    with db.read() as conn:
        options = conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE relname = 'ledger_accounts'"
        ).scalar_one()
    db.close()
    assert "fillfactor=75" in options
    assert "autovacuum_vacuum_scale_factor=0.05" in options


def test_postgres_samples_few_transfer_rows_for_statistics(pg_url):
    """PostgreSQL alone (SQLite keeps no statistics sample): ANALYZE of ledger_transfers
    holds a snapshot while it samples, and no account row can be pruned meanwhile."""
    import chaindb

    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    every_column = statistics_targets(db, "ledger_transfers")
    migrations.rollback(db, "ledger_0004")
    after_rollback = statistics_targets(db, "ledger_transfers")
    db.close()
    assert every_column == {10}
    assert after_rollback == {-1}


def test_the_migration_walks_down_and_up_with_rows(core_db, small_band):
    fund(core_db, users=30)
    board.rebalance(core_db, 1)
    migrations.rollback(core_db, "ledger_0002")
    with core_db.read() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("ledger_accounts")}
    assert "ledger_leaderboard" not in tables and "ledger_leaderboard_floors" not in tables
    assert "ix_ledger_accounts_leaderboard" in indexes
    # Written while the board is gone: the upgrade builds it from the accounts.
    ledger.transfer(core_db, debit="user:u0", credit="user:u29", amount=5, kind="transfer")
    migrations.migrate(core_db)
    expected = recomputed(core_db)
    assert [(e.rank, e.user_id, e.balance) for e in ledger.leaderboard(core_db, limit=30)] == (
        expected
    )
    with core_db.read() as conn:
        assert board.board_problems(conn) == []
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("ledger_accounts")}
    assert "ix_ledger_accounts_leaderboard" not in indexes


def test_concurrent_writers_and_floor_moves_keep_the_board_exact(core_db, small_band):
    """Four threads of transfers (PostgreSQL: each on its own connection) while a fifth moves
    the floor over and over: the board still equals its recomputation."""
    fund(core_db)
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(60):
                random_step(core_db, rng)
        except BaseException as error:  # reported below
            errors.append(error)

    def mover() -> None:
        try:
            while not done.is_set():
                board.rebalance(core_db, 1)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    moving = threading.Thread(target=mover)
    moving.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    done.set()
    moving.join(timeout=60)
    assert errors == []
    assert_exact(core_db)
    report = ledger.check_ledger(core_db)
    assert report.ok, report.problems()


def test_a_token_board_and_an_unknown_asset(core_db):
    """Another asset's board is read by its code (on PostgreSQL in the one prepared
    statement); a code no asset has is an error naming it, not an empty board."""
    gold = ledger.ensure_token_asset(
        core_db, chain_id=1, token_address=None, symbol="ETH", decimals=18
    ).code
    for user, amount in (("a", 5), ("b", 2**70), ("c", 5)):
        core.create_user(core_db, user)
        ledger.transfer(core_db, debit="system:issuance", credit=f"user:{user}", amount=amount,
                        kind="deposit", asset=gold)  # fmt: skip
    top = ledger.leaderboard(core_db, asset=gold, limit=2)
    assert [(e.rank, e.user_id, e.balance) for e in top] == [(1, "b", 2**70), (2, "a", 5)]
    assert ledger.leaderboard(core_db) == []  # no points were moved
    with pytest.raises(NotFound, match="'eip155:2/native' is unknown"):
        ledger.leaderboard(core_db, asset="eip155:2/native")


def test_postgresql_reads_the_top_in_one_prepared_statement(core_db, monkeypatch):
    """On PostgreSQL the board's top is one statement through libpq (the general path is not
    taken while the board can answer alone); names past ASCII come back as they were."""
    for user, amount in (("józef", 9), ("zoë", 2**64)):
        core.create_user(core_db, user, f"{user} ✓")
        ledger.transfer(core_db, debit="system:issuance", credit=f"user:{user}", amount=amount,
                        kind="deposit")  # fmt: skip
    general = board._top
    taken: list[str] = []
    monkeypatch.setattr(board, "_top", lambda *args: taken.append("general") or general(*args))
    top = ledger.leaderboard(core_db, limit=5)
    assert [(e.rank, e.user_id, e.username, e.balance) for e in top] == [
        (1, "zoë", "zoë ✓", 2**64), (2, "józef", "józef ✓", 9),
    ]  # fmt: skip
    assert taken == ([] if core_db.backend == "postgresql" else ["general"])
