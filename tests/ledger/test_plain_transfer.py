"""The one-statement path of a plain transfer: PostgreSQL's alone (SQLite has no data-modifying
WITH, and every statement there is in process anyway), so these tests run on PostgreSQL only.
They check that it writes exactly what the engine writes, that whatever it declines leaves
nothing written (the engine then decides), and that it and the engine never deadlock."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

import chaindb
from chaindb import Conflict, NotFound, core, ledger, migrations
from chaindb.ledger import InsufficientFunds, plain_transfer, transfers
from chaindb.ledger.requests import TransferItem, TransferRequest
from chaindb.ledger.schema import ACCOUNT_COUNTERS
from chaindb.types import UINT256_MAX


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[chaindb.Database]:
    database = chaindb.connect(pg_url)
    migrations.migrate(database)
    yield database
    database.close()


def item(**fields) -> TransferItem:
    return TransferItem.of(TransferRequest(kind="transfer", **fields))


def counters(db, owner: str, asset: str = "points") -> tuple[int | None, ...]:
    account = ledger.get_account(db, owner, asset)
    return tuple(getattr(account, name) for name in ACCOUNT_COUNTERS)


def everything(db) -> tuple[list[tuple], list[tuple]]:
    """Every account and transfer row: what a declined write must leave as it was."""
    with db.read() as conn:
        accounts = conn.execute(sa.text("SELECT * FROM ledger_accounts ORDER BY id")).all()
        rows = conn.execute(sa.text("SELECT * FROM ledger_transfers ORDER BY id")).all()
    return [tuple(a) for a in accounts], [tuple(r) for r in rows]


def test_it_takes_a_lone_plain_transfer_on_postgresql_only(pg_db, tmp_path):
    plain = item(debit="user:a", credit="system:escrow", amount=5)
    assert plain_transfer.takes(pg_db, [plain]) == plain
    refused = [
        [plain, plain],
        [item(debit="user:a", credit="user:b", amount=5, pending=True)],
        [item(debit="system:issuance", credit="user:a", amount=5)],
        [item(debit="user:a", credit="system:burn", amount=5)],
        # (Validation refuses one account on both sides; an item made by hand still may.)
        [plain._replace(credit=plain.debit)],
    ]
    assert [plain_transfer.takes(pg_db, requests) for requests in refused] == [None] * 5
    sqlite_db = chaindb.connect(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert plain_transfer.takes(sqlite_db, [plain]) is None
    sqlite_db.close()


def test_it_writes_what_the_engine_writes(pg_db):
    """The same transfers between two mirrored sets of accounts, one set through this path,
    the other through the engine (which a caller's connection always gets): the same counters,
    the same rows."""
    sides = {"p": [], "e": []}
    for side, names in sides.items():
        for n in range(3):
            core.create_user(pg_db, f"{side}{n}")
            names.append(f"user:{side}{n}")
        names.append(f"system:escrow_{side}")
    token = ledger.ensure_token_asset(
        pg_db, chain_id=1, token_address=None, symbol="ETH", decimals=18
    )
    for names in sides.values():  # issuance is the engine's: fund both sides alike
        ledger.transfer_batch(
            pg_db,
            [
                {
                    "debit": "system:issuance",
                    "credit": name,
                    "amount": amount,
                    "kind": "deposit",
                    "asset": asset,
                }
                for name in names
                for asset, amount in (("points", UINT256_MAX // 16), (token.code, 10**21))
            ],
        )
    rng = random.Random(3)
    for number in range(40):
        debit, credit = rng.sample(range(4), 2)
        fields = {
            "amount": rng.choice(
                [1, rng.randint(1, 10**6), 2**63 + rng.randint(0, 99), UINT256_MAX // 1024]
            ),
            "asset": rng.choice(["points", token.code]),
            "reason": rng.choice([None, f"r{number}"]),
        }
        if fields["asset"] == token.code:
            fields["amount"] %= 10**19
        written = {}
        for side, names in sides.items():
            request = item(
                debit=names[debit],
                credit=names[credit],
                idempotency_key=f"{side}{number}",
                **fields,
            )
            if side == "p":
                written[side] = plain_transfer.try_transfer(pg_db, request)
            else:
                with pg_db.transaction() as conn:
                    written[side] = transfers.run(conn, [request])[0]
        assert written["p"] is not None, "the plain path took it"
        assert written["p"] == ledger.get_transfer(pg_db, written["p"].id), "as stored"
        compared = ("asset_id", "amount", "kind", "phase", "pending_id", "expires_at", "reason")
        assert [getattr(written["p"], f) for f in compared] == [
            getattr(written["e"], f) for f in compared
        ]
    for plain, engine in zip(sides["p"], sides["e"], strict=True):
        for asset in ("points", token.code):
            assert counters(pg_db, plain, asset) == counters(pg_db, engine, asset), (plain, asset)
    assert ledger.check_ledger(pg_db).ok


def test_what_it_declines_leaves_nothing_written_and_the_engine_decides(pg_db):
    for user in ("alice", "bob", "carol", "dave"):
        core.create_user(pg_db, user)
    move = {"kind": "transfer", "amount": 100}
    ledger.transfer(
        pg_db,
        debit="system:issuance",
        credit="user:alice",
        amount=UINT256_MAX - 100,
        kind="deposit",
    )
    ledger.transfer(pg_db, debit="system:issuance", credit="user:bob", amount=100, kind="deposit")
    ledger.transfer(
        pg_db, debit="user:bob", credit="user:alice", **move
    )  # alice: credited 2**256-1
    ledger.transfer(pg_db, debit="user:alice", credit="user:bob", **move)
    ledger.transfer(
        pg_db, debit="user:bob", credit="user:dave", amount=1, kind="transfer", idempotency_key="k"
    )
    declined = {
        "bob has 99": item(debit="user:bob", credit="user:dave", amount=100),
        "carol has no account yet": item(debit="user:bob", credit="user:carol", amount=5),
        "zed is nobody": item(debit="user:bob", credit="user:zed", amount=5),
        "no such asset": item(
            debit="user:bob", credit="user:dave", amount=5, asset="eip155:1/native"
        ),
        "alice's credits past uint256": item(debit="user:bob", credit="user:alice", amount=1),
        "the key is taken": item(
            debit="user:bob", credit="user:dave", amount=2, idempotency_key="k"
        ),
    }
    before = everything(pg_db)
    for case, request in declined.items():
        assert plain_transfer.try_transfer(pg_db, request) is None, case
        assert everything(pg_db) == before, case

    def engine(name: str) -> ledger.Transfer:
        return ledger.transfer(pg_db, **declined[name]._asdict())

    with pytest.raises(InsufficientFunds, match="user:bob has 99 points available"):
        engine("bob has 99")
    assert engine("carol has no account yet").amount == 5  # the engine creates the account
    with pytest.raises(NotFound, match="zed"):
        engine("zed is nobody")
    with pytest.raises(NotFound, match="asset: 'eip155:1/native' is unknown"):
        engine("no such asset")
    with pytest.raises(Conflict, match=r"credits_posted of account .* would exceed 2\*\*256 - 1"):
        engine("alice's credits past uint256")
    with pytest.raises(Conflict, match="differs in amount"):
        engine("the key is taken")
    assert ledger.get_balance(pg_db, "user:bob").available == 94
    assert ledger.check_ledger(pg_db).ok


def test_it_and_the_engine_write_at_once_without_deadlock(pg_db, monkeypatch):
    """Threads mixing single plain transfers (this path) and batches (the engine) over the
    same accounts, in every order: both lock in id order, so no deadlock ever needs a retry."""
    users = [f"user:u{n}" for n in range(6)]
    for user in users:
        core.create_user(pg_db, user.removeprefix("user:"))
    start = 2**70
    ledger.transfer_batch(
        pg_db,
        [
            {"debit": "system:issuance", "credit": u, "amount": start, "kind": "deposit"}
            for u in users
        ],
    )
    transient: list[str] = []
    is_transient = transfers._is_transient

    def noting(error: BaseException) -> bool:
        transient.append(getattr(getattr(error, "orig", None), "sqlstate", None) or repr(error))
        return is_transient(error)

    monkeypatch.setattr(transfers, "_is_transient", noting)  # observed, not replaced
    failures: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(150):
                pairs = [rng.sample(users, 2) for _ in range(rng.choice([1, 1, 3]))]
                requests = [
                    {"debit": d, "credit": c, "amount": rng.randint(1, 2**66), "kind": "transfer"}
                    for d, c in pairs
                ]
                with contextlib.suppress(InsufficientFunds):  # refused whole: fine here
                    if len(requests) == 1:
                        ledger.transfer(pg_db, **requests[0])  # this path
                    else:
                        ledger.transfer_batch(pg_db, requests)  # the engine
        except BaseException as error:  # reported by the test below
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert "40P01" not in transient, "a deadlock was retried"
    report = ledger.check_ledger(pg_db)
    assert report.ok, report.problems()
    balances = [ledger.get_balance(pg_db, u).available for u in users]
    assert sum(balances) == len(users) * start


def test_its_statement_deallocated_meanwhile_is_prepared_again(pg_url):
    """psycopg deallocates every prepared statement on a connection after a ROLLBACK it ran
    there: the next plain transfer on that connection prepares its statement again."""
    one_kept = dataclasses.replace(chaindb.Settings.from_env(), pool_size=1, max_connections=2)
    db = chaindb.connect(pg_url, settings=one_kept)
    migrations.migrate(db)
    core.create_user(db, "alice")
    ledger.transfer(db, debit="system:issuance", credit="user:alice", amount=9, kind="deposit")
    ledger.transfer(db, debit="user:alice", credit="system:escrow", amount=1, kind="transfer")
    with db.connection() as conn:  # the pool's only connection: the one just used
        conn.exec_driver_sql("DEALLOCATE ALL")
    ledger.transfer(db, debit="user:alice", credit="system:escrow", amount=1, kind="transfer")
    assert ledger.get_balance(db, "user:alice").available == 7
    db.close()


def test_a_new_connections_first_transfer_is_one_server_transaction(pg_url, pg_admin_url):
    """Its statement is prepared in the same message train as its first run: a process that
    sends one transfer costs the server what one autocommit statement of its own costs (the
    login's transaction, and one), not a transaction more for the prepare. (Straight to the
    server, also in the PgBouncer pass: the pooler keeps its server connections.)"""
    name = sa.engine.make_url(pg_url).database
    pg_url = sa.engine.make_url(pg_admin_url).set(database=name).render_as_string(False)
    with chaindb.connect(pg_url) as setup:
        migrations.migrate(setup)
        core.create_user(setup, "alice")
        ledger.transfer(
            setup, debit="system:issuance", credit="user:alice", amount=9, kind="deposit"
        )  # (the plain path moves between accounts that exist: this makes them)
        ledger.transfer(
            setup, debit="user:alice", credit="system:escrow", amount=1, kind="transfer"
        )
    name = sa.engine.make_url(pg_url).database

    def one_transfer() -> None:
        with chaindb.connect(pg_url) as db:
            ledger.transfer(
                db, debit="user:alice", credit="system:escrow", amount=1, kind="transfer"
            )

    def one_statement() -> None:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("SELECT 1")

    assert server_commits_of(one_transfer, pg_admin_url, name) == server_commits_of(
        one_statement, pg_admin_url, name
    )
    with chaindb.connect(pg_url) as db:
        assert ledger.get_balance(db, "user:alice").available == 7


def server_commits_of(work, admin_url: str, name: str) -> int:
    """The server transactions `work` committed in the database `name` (pg_stat_database,
    read once every backend of it has ended and so counted its own)."""
    admin = sa.create_engine(
        sa.engine.make_url(admin_url).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    query = sa.text(
        "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = :n), "
        "(SELECT count(*) FROM pg_stat_activity WHERE datname = :n)"
    )

    def committed() -> int:
        for _ in range(400):
            with admin.connect() as conn:
                count, alive = conn.execute(query, {"n": name}).one()
            if alive == 0:
                return int(count)
            time.sleep(0.05)
        raise AssertionError(f"the backends of {name} did not end")

    before = committed()
    work()
    after = committed()
    admin.dispose()
    return after - before


def test_it_waits_for_the_pools_connection_and_gives_it_back(pg_url):
    """Its checkout is the pool's own (pool.take): with the only connection held elsewhere it
    waits for it, as any checkout does, and afterwards the pool has it back."""
    with chaindb.connect(pg_url) as setup:  # (a migration holds its lock on a second one)
        migrations.migrate(setup)
    one = dataclasses.replace(chaindb.Settings.from_env(), pool_size=1, max_connections=1)
    db = chaindb.connect(pg_url, settings=one)
    core.create_user(db, "alice")
    ledger.transfer(db, debit="system:issuance", credit="user:alice", amount=9, kind="deposit")
    held, released = threading.Event(), []

    def hold() -> None:
        with db.connection() as conn:
            conn.exec_driver_sql("SELECT 1")
            held.set()
            time.sleep(HOLD_S)
            released.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    ledger.transfer(db, debit="user:alice", credit="system:escrow", amount=1, kind="transfer")
    done = time.monotonic()
    holder.join()
    assert released and done >= released[0]  # it had to wait for the holder's connection
    assert db.engine.pool.checkedout() == 0
    assert ledger.get_balance(db, "user:alice").available == 8
    db.close()


HOLD_S = 0.3
