"""The write path's SQL, built once per shape and reused: every transfer runs these.

A write stores its transfer rows and the new counters of the accounts they touched.
- PostgreSQL, where every statement is a round trip: a batch's transfers in one binary COPY,
  its accounts in one UPDATE ... FROM arrays; a single transfer and its accounts in one
  statement (a data-modifying WITH).
- SQLite, in process: a batch's transfers in multi-row INSERTs (VALUES (...), (...), ...),
  its accounts by the driver's executemany of a plain UPDATE.
The statements a single transfer runs go to the driver directly (driver.DriverStatement):
SQLAlchemy's per-call cost is as large as SQLite's own work, or as a round trip to PostgreSQL.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from chaindb.driver import CopyStatement, DriverStatement
from chaindb.ledger.requests import RowsWithHold, Transfer
from chaindb.ledger.schema import ledger_accounts, ledger_holds, ledger_transfers
from chaindb.types import utc_now

# A transfer's optional links: left out of the INSERT when no row of the write sets them.
OPTIONAL_COLUMNS = (
    "pending_id",
    "expires_at",
    "idempotency_key",
    "reason",
    "challenge_id",
    "chain_tx_hash",
)

INSERT_HOLDS = sa.insert(ledger_holds)
END_HOLDS = sa.delete(ledger_holds).where(
    ledger_holds.c.transfer_id.in_(sa.bindparam("ids", expanding=True))
)
BY_IDEMPOTENCY_KEY = sa.select(ledger_transfers).where(
    ledger_transfers.c.idempotency_key.in_(sa.bindparam("keys", expanding=True))
)


def insert_hold_with(conn: Connection, hold: Mapping[str, Any], rows: RowsWithHold) -> None:
    """PostgreSQL: a hold's row and the caller's rows in one statement (one round trip)."""
    statement = _hold_with_statement(conn.dialect, rows.ctes, rows.binds)
    params = {f"h_{name}": value for name, value in hold.items() if name != "transfer_id"}
    statement.execute(conn, {**rows.params, **params, "hold_id": hold["transfer_id"]})


@functools.lru_cache(maxsize=64)
def _hold_with_statement(
    dialect: sa.Dialect, ctes: str, caller_binds: tuple[sa.BindParameter[Any], ...]
) -> DriverStatement:
    h = ledger_holds.c
    names = ("debit_account_id", "credit_account_id", "amount", "expires_at")
    sql = (
        f"WITH {ctes} INSERT INTO ledger_holds (transfer_id, {', '.join(names)}) "
        f"VALUES (:hold_id, {', '.join(f':h_{name}' for name in names)})"
    )
    binds = [sa.bindparam("hold_id", type_=h.transfer_id.type)]
    binds += [sa.bindparam(f"h_{name}", type_=h[name].type) for name in names]
    return DriverStatement(sa.text(sql).bindparams(*binds, *caller_binds), dialect, [])


_NEXT_IDS = {
    # Sequence values, taken up front so the inserts need no RETURNING: one array, and the
    # sequence looked up once (a subquery), not once per value.
    "postgresql": sa.text(
        "SELECT array_agg(nextval((SELECT pg_get_serial_sequence('ledger_transfers', 'id'))"
        "::regclass)) FROM generate_series(1, :n)"
    ),
    # The transaction holds SQLite's only write lock: nobody else can take these ids.
    "sqlite": sa.text("SELECT coalesce(max(id), 0) FROM ledger_transfers"),
}


@functools.lru_cache(maxsize=8)
def _last_id(dialect: sa.Dialect) -> DriverStatement:
    return DriverStatement(_NEXT_IDS["sqlite"], dialect, [])


def insert_one(
    conn: Connection,
    row: Transfer,
    accounts: list[dict[str, Any]],
    counters: tuple[str, ...],
) -> Transfer:
    """Store one transfer (id 0: the database assigns it) and its accounts' new `counters`;
    returns the transfer with its id."""
    columns = _columns([row], with_id=False)
    if conn.dialect.name != "postgresql":  # in-process SQLite: statements cost no round trip
        transfer_id = _sqlite_insert(conn.dialect, columns).execute(conn, row).lastrowid
        update_accounts(conn, accounts, counters)
        return row._replace(id=transfer_id)
    params = {f"t_{name}": getattr(row, name) for name in columns}
    statement = _insert_one_statement(conn.dialect, columns, counters)
    transfer_id = statement.execute(conn, params | _account_arrays(accounts, counters))
    return row._replace(id=transfer_id.fetchone()[0])


def insert_many(
    conn: Connection,
    rows: list[Transfer],
    accounts: list[dict[str, Any]],
    counters: tuple[str, ...],
) -> None:
    """Store many transfers (their ids taken before, by allocate_ids) and the accounts.
    PostgreSQL takes all the rows in one COPY (a statement per row costs the server a parse, a
    plan and an execution each); SQLite a hundred or so per INSERT (each execution sets up
    its cursors and checks again)."""
    columns = _columns(rows, with_id=True)
    if conn.dialect.name == "postgresql":
        copy_transfers(conn.dialect, columns).copy(conn, rows)
    else:
        _sqlite_insert(conn.dialect, columns).insert_rows(conn, rows)
    update_accounts(conn, accounts, counters)


def allocate_ids(conn: Connection, count: int) -> Sequence[int]:
    """`count` new transfer ids, in order: a write takes them up front, so that its inserts
    need no RETURNING."""
    if conn.dialect.name == "postgresql":
        return sorted(conn.execute(_NEXT_IDS["postgresql"], {"n": count}).scalar_one())
    last = _last_id(conn.dialect).execute(conn, {}).fetchone()[0]
    return range(last + 1, last + 1 + count)


def update_accounts(
    conn: Connection, accounts: list[dict[str, Any]], counters: tuple[str, ...]
) -> None:
    """Store the accounts' new values of `counters`, the ones the write changed: the others
    need no binding, and (SQLite) no CHECK constraint of theirs is evaluated again."""
    if conn.dialect.name == "postgresql":
        conn.execute(_update_from_arrays(counters), _account_arrays(accounts, counters))
        return
    now = utc_now()
    update = _sqlite_update(conn.dialect, counters)
    update.executemany(conn, [account | {"now": now} for account in accounts])


def _columns(rows: list[Transfer], *, with_id: bool) -> tuple[str, ...]:
    """The transfer's columns less the optional links no row sets: less to bind per row."""
    unset = {name for name in OPTIONAL_COLUMNS if _all_none(list(map(_FIELD[name], rows)))}
    names = Transfer._fields if with_id else Transfer._fields[1:]
    return tuple(name for name in names if name not in unset)


_FIELD = {name: operator.itemgetter(n) for n, name in enumerate(Transfer._fields)}


def _all_none(values: list[Any]) -> bool:
    return values.count(None) == len(values)  # counted in C, by identity first


# --- PostgreSQL: one array per column ----------------------------------------------------------
# One short statement whatever the number of rows: the driver parses and prepares it once
# (a statement with hundreds of parameters would be parsed again on every call).

_NOW = sa.bindparam("now", type_=ledger_accounts.c.updated_at.type)


def _arrays(table: sa.Table, names: tuple[str, ...]) -> tuple[str, list[sa.BindParameter[Any]]]:
    """One array parameter per column, cast to the column's own type (`CAST(:x AS T[])`), and
    its bind: the elements go through the column's type (range and time zone checks)."""
    dialect = postgresql.dialect()
    sql = ", ".join(
        f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in names
    )
    binds = [sa.bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in names]
    return sql, binds


def _update_from_arrays_parts(
    counters: tuple[str, ...],
) -> tuple[str, list[sa.BindParameter[Any]]]:
    columns = ("id", *counters)  # the id picks the row, the counters are its new values
    arrays, binds = _arrays(ledger_accounts, columns)
    sql = (
        f"UPDATE ledger_accounts SET {', '.join(f'{name} = v.{name}' for name in counters)}, "
        f"updated_at = :now FROM unnest({arrays}) AS v ({', '.join(columns)}) "
        "WHERE ledger_accounts.id = v.id"
    )
    return sql, [*binds, _NOW]


@functools.lru_cache(maxsize=256)
def _update_from_arrays(counters: tuple[str, ...]) -> sa.TextClause:
    sql, binds = _update_from_arrays_parts(counters)
    return sa.text(sql).bindparams(*binds)


def _account_arrays(accounts: list[dict[str, Any]], counters: tuple[str, ...]) -> dict[str, Any]:
    arrays = {name: [account[name] for account in accounts] for name in ("id", *counters)}
    return arrays | {"now": utc_now()}


@functools.lru_cache(maxsize=128)
def copy_transfers(dialect: sa.Dialect, columns: tuple[str, ...]) -> CopyStatement:
    """Every row of a batch in one binary COPY. (The benchmark times the same on its copy of
    the table.)"""
    return CopyStatement(ledger_transfers, columns, dialect, fields=Transfer._fields)


@functools.lru_cache(maxsize=256)
def _insert_one_statement(
    dialect: sa.Dialect, columns: tuple[str, ...], counters: tuple[str, ...]
) -> DriverStatement:
    """The transfer's INSERT and its accounts' UPDATE in one statement: one round trip."""
    update, update_binds = _update_from_arrays_parts(counters)
    sql = (
        f"WITH moved AS (INSERT INTO ledger_transfers ({', '.join(columns)}) "
        f"VALUES ({', '.join(f':t_{name}' for name in columns)}) RETURNING id), "
        f"updated AS ({update} RETURNING ledger_accounts.id) "
        "SELECT id FROM moved"
    )
    transfer_binds = [
        sa.bindparam(f"t_{name}", type_=ledger_transfers.c[name].type) for name in columns
    ]
    statement = sa.text(sql).bindparams(*transfer_binds, *update_binds)
    return DriverStatement(statement, dialect, [])


# --- SQLite: multi-row INSERTs, an UPDATE per account in the driver's loop -------------------
# In process, a statement costs no round trip, but each execution sets itself up again: the
# transfers go many rows to an INSERT (DriverStatement.insert_rows). For the accounts the
# driver's executemany is cheaper than one UPDATE ... FROM a VALUES list (measured: about 24
# against 35 us an account).


@functools.lru_cache(maxsize=128)
def _sqlite_insert(dialect: sa.Dialect, columns: tuple[str, ...]) -> DriverStatement:
    values = {name: sa.bindparam(name, type_=ledger_transfers.c[name].type) for name in columns}
    statement = sa.insert(ledger_transfers).values(values)
    return DriverStatement(statement, dialect, [], fields=Transfer._fields)


@functools.lru_cache(maxsize=256)
def _sqlite_update(dialect: sa.Dialect, counters: tuple[str, ...]) -> DriverStatement:
    a = ledger_accounts.c
    values = {name: sa.bindparam(name, type_=a[name].type) for name in counters}
    statement = (
        sa.update(ledger_accounts)
        .where(a.id == sa.bindparam("id", type_=a.id.type))
        .values({**values, "updated_at": _NOW})
    )
    return DriverStatement(statement, dialect, [])
