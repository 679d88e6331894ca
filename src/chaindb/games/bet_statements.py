"""The bet write path's SQL, compiled once and run on the driver (chaindb.driver), as the
ledger's write path is: a bet is a ledger hold and a few rows around it, and SQLAlchemy's
per-statement cost was larger than those rows' own work (measured: place_bet ran 12
statements through it, at a third of the ledger's hold rate).

- The game row: read and locked, then its pot updated (SQLite: the amounts are text there,
  the sum is made in Python; PostgreSQL: both in one UPDATE ... RETURNING, one round trip).
- The bets and their audit rows (one per bet): SQLite, multi-row INSERTs, and from
  AUDITED_BY_SQL_ROWS_MIN bets, the bets' audit rows made by SQLite from the stored bets
  (built in Python, they cost as much as the holds); PostgreSQL, a single bet's rows in the
  statement that writes its hold's row (ledger.hold_with: one round trip fewer), a few bets
  by one statement, a batch by two binary COPYs.
- Each player's balance row: the available CRAP before and after, the `balance` column of
  token_balances alone (its held columns sum the account's open holds; PostgreSQL finds the
  row by ix_ledger_accounts_user, SQLite, without statistics, by the asset's user accounts).
  PostgreSQL writes these rows from the view in the same statement as the bets.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from chaindb import ledger
from chaindb.driver import CopyStatement, DriverStatement
from chaindb.errors import NotFound
from chaindb.games.audit import AUDIT_COLUMNS, AuditRow, audit_row
from chaindb.games.crap_token import CRAP
from chaindb.games.schema import bets, games, games_audit_log, token_balances
from chaindb.types import UINT256_DIGITS

# What placing a bet reads of its game (its `state` JSON is never needed here).
GAME_COLUMNS = ("id", "phase", "point", "roll_count", "pot_size", "updated_at")
BET_COLUMNS = (
    "id",
    "game_id",
    "player_id",
    "bet_type",
    "amount",
    "placed_at_roll",
    "hold_transfer_id",
    "created_at",
)
PLAYERS_PER_READ_MAX = 500
# PostgreSQL: from this many bets, two binary COPYs (the driver encodes the rows in C) rather
# than one statement (a batch of 1,000 as arrays: 85 ms encoding them in Python).
COPY_ROWS_MIN = 50
# SQLite: from this many bets, their audit rows made by SQLite from the stored bets (two
# statements more, but no Python per bet).
AUDITED_BY_SQL_ROWS_MIN = 20


def lock_and_add_to_pot(
    conn: Connection, game_id: str, added: int, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Lock the game, add `added` to its pot; the game's columns before and after."""
    if conn.dialect.name == "postgresql":
        rows = _add_to_pot_postgresql(conn.dialect).mappings(
            conn, {"game_id": game_id, "added": added, "now": now}
        )
        if not rows:
            raise NotFound(f"game_id: game {game_id!r} does not exist")
        after = rows[0]  # with the CRAP asset's id, read here for the hold (hold_with)
        return after | {"pot_size": after["pot_size"] - added}, after
    rows = _select_game(conn.dialect).mappings(conn, {"game_id": game_id})
    if not rows:
        raise NotFound(f"game_id: game {game_id!r} does not exist")
    before = rows[0]
    after = before | {"pot_size": before["pot_size"] + added, "updated_at": now}
    _update_pot_sqlite(conn.dialect).execute(conn, after)
    return before, after


def available_balances(conn: Connection, players: Sequence[str]) -> dict[str, int]:
    """Each player's available CRAP (0 for a player without a CRAP account yet)."""
    found: dict[str, int] = {}
    if len(players) == 1:
        rows = _one_balance(conn.dialect).mappings(conn, {"user_id": players[0]})
        found = {row["user_id"]: row["balance"] for row in rows}
    else:
        t = token_balances.c
        for start in range(0, len(players), PLAYERS_PER_READ_MAX):
            chunk = list(players[start : start + PLAYERS_PER_READ_MAX])
            rows = conn.execute(sa.select(t.user_id, t.balance).where(t.user_id.in_(chunk)))
            found.update({row.user_id: row.balance for row in rows})
    return {player: found.get(player, 0) for player in players}


def insert_bets_and_audit(
    conn: Connection,
    bet_rows: Sequence[Sequence[Any]],
    game_rows: Sequence[AuditRow],
    held: Mapping[str, int],
    now: datetime,
) -> None:
    """Store the bets (tuples in BET_COLUMNS' order), an audit row per bet (its player, its
    terms and hold), the games' audit rows, and a row per player of `held` (what the bets hold
    of each) with the player's available CRAP before and after. The balances are read after
    the ledger locked the accounts: nobody else moves them now."""
    balance_params = {"players": list(held), "held": list(held.values()), "now": now}
    if conn.dialect.name == "postgresql" and len(bet_rows) >= COPY_ROWS_MIN:
        _copy(conn.dialect, bets, BET_COLUMNS).copy(conn, bet_rows)
        # The bets' audit rows by the server, from the bets just copied (found by their
        # holds, uq_bets_hold): the JSON made in Python cost a third of a hold.
        statement = _insert_all_postgresql(conn.dialect, 0, len(game_rows), by_holds=True)
        params = _numbered(game_rows, AUDIT_COLUMNS, "a") | balance_params
        statement.execute(conn, params | {"hold_ids": [row[6] for row in bet_rows]})
    elif conn.dialect.name == "postgresql":
        audit_rows = [*game_rows, *map(_placed_row, bet_rows)]
        statement = _insert_all_postgresql(conn.dialect, len(bet_rows), len(audit_rows))
        params = _numbered(bet_rows, BET_COLUMNS, "b") | _numbered(audit_rows, AUDIT_COLUMNS, "a")
        statement.execute(conn, params | balance_params)
    elif len(bet_rows) >= AUDITED_BY_SQL_ROWS_MIN:
        _insert_sqlite_with_audit(conn, bet_rows, game_rows, held, now)
    else:
        _insert_sqlite(conn.dialect, bets, BET_COLUMNS).insert_rows(conn, bet_rows)
        balance_rows = _balance_rows(available_balances(conn, list(held)), held, now)
        audited = [*game_rows, *map(_placed_row, bet_rows), *balance_rows]
        _insert_sqlite(conn.dialect, games_audit_log, AUDIT_COLUMNS).insert_rows(conn, audited)


def rows_with_hold(
    bet_row: Sequence[Any],
    game_rows: Sequence[AuditRow],
    held: Mapping[str, int],
    now: datetime,
) -> ledger.RowsWithHold:
    """PostgreSQL, one bet: its row (in BET_COLUMNS' order less hold_transfer_id), its audit
    row, its game's and its player's, as the WITH items ledger.hold_with writes in the hold's
    own statement (`:hold_id`: the hold's id). One round trip fewer: a single bet's time is
    mostly its round trips."""
    ctes, binds = _one_bet_ctes(len(game_rows))
    params = _numbered([bet_row], _BET_COLUMNS_BUT_HOLD, "b")
    params |= _numbered(game_rows, AUDIT_COLUMNS, "a")
    params |= {"players": list(held), "held": list(held.values()), "now": now}
    return ledger.RowsWithHold(ctes, binds, params)


def _insert_sqlite_with_audit(
    conn: Connection,
    bet_rows: Sequence[Sequence[Any]],
    game_rows: Sequence[AuditRow],
    held: Mapping[str, int],
    now: datetime,
) -> None:
    """The bets, then their audit rows made by SQLite from the rows just stored (the ones
    past the table's last rowid: the transaction holds SQLite's only write lock), then the
    games' and players' rows. Made in Python, a bet's audit row cost as much as its hold."""
    last_rowid = _last_bet_rowid(conn.dialect).execute(conn, {}).fetchone()[0]
    _insert_sqlite(conn.dialect, bets, BET_COLUMNS).insert_rows(conn, bet_rows)
    _audit_placed_sqlite(conn.dialect).execute(conn, {"last_rowid": last_rowid})
    balance_rows = _balance_rows(available_balances(conn, list(held)), held, now)
    audited = [*game_rows, *balance_rows]
    _insert_sqlite(conn.dialect, games_audit_log, AUDIT_COLUMNS).insert_rows(conn, audited)


def _placed_row(bet: Sequence[Any]) -> AuditRow:
    """A bet's audit row, from its row in BET_COLUMNS' order (the SQL of
    _audit_placed_sqlite makes the same)."""
    bet_id, game_id, player_id, bet_type, amount, _, hold_transfer_id, created_at = bet
    after = {"game_id": game_id, "bet_type": bet_type, "amount": amount,
             "hold_transfer_id": hold_transfer_id}  # fmt: skip
    return audit_row(created_at, player_id, "bet", bet_id.hex(), "place", None, after)


def _balance_rows(
    balances: Mapping[str, int], held: Mapping[str, int], now: datetime
) -> list[AuditRow]:
    return [
        audit_row(now, player, "balance", player, "bet", {"balance": balance + held[player]},
                  {"balance": balance})
        for player, balance in balances.items()
    ]  # fmt: skip


def _numbered(
    rows: Sequence[Sequence[Any]], columns: tuple[str, ...], prefix: str
) -> dict[str, Any]:
    """The parameters of _values_sql(...): `b0_id`, `b0_game_id`, ..., `b1_id`, ..."""
    return {
        f"{prefix}{n}_{name}": value
        for n, row in enumerate(rows)
        for name, value in zip(columns, row, strict=True)
    }


# --- SQLite --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _select_game(dialect: sa.Dialect) -> DriverStatement:
    g = games.c
    columns = [g[name] for name in GAME_COLUMNS]
    statement = sa.select(*columns).where(g.id == sa.bindparam("game_id")).with_for_update()
    return DriverStatement(statement, dialect, columns)


@functools.lru_cache(maxsize=8)
def _update_pot_sqlite(dialect: sa.Dialect) -> DriverStatement:
    g = games.c
    statement = (
        sa.update(games)
        .where(g.id == sa.bindparam("id", type_=g.id.type))
        .values(
            pot_size=sa.bindparam("pot_size", type_=g.pot_size.type),
            updated_at=sa.bindparam("updated_at", type_=g.updated_at.type),
        )
    )
    return DriverStatement(statement, dialect, [])


@functools.lru_cache(maxsize=8)
def _one_balance(dialect: sa.Dialect) -> DriverStatement:
    t = token_balances.c
    statement = sa.select(t.user_id, t.balance).where(t.user_id == sa.bindparam("user_id"))
    return DriverStatement(statement, dialect, [t.user_id, t.balance])


@functools.lru_cache(maxsize=8)
def _insert_sqlite(
    dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]
) -> DriverStatement:
    values = {name: sa.bindparam(name, type_=table.c[name].type) for name in columns}
    return DriverStatement(sa.insert(table).values(values), dialect, [], fields=columns)


# A bet's audit row (as _placed_row makes it: an amount a JSON number below 2**53, else its
# decimal text; the id in lowercase hex), for the bets past a rowid. SQLite stores amounts as
# zero-padded text: the comparison is numeric.
_AUDIT_PLACED_SQLITE = f"""INSERT INTO games_audit_log ({", ".join(AUDIT_COLUMNS)})
SELECT created_at, player_id, 'bet', lower(hex(id)), 'place', 'null',
       json_object('game_id', game_id, 'bet_type', bet_type,
                   'amount', CASE WHEN amount < '{str(2**53).zfill(UINT256_DIGITS)}'
                             THEN CAST(amount AS INTEGER) ELSE ltrim(amount, '0') END,
                   'hold_transfer_id', hold_transfer_id)
FROM bets WHERE rowid > :last_rowid ORDER BY rowid"""


@functools.lru_cache(maxsize=8)
def _last_bet_rowid(dialect: sa.Dialect) -> DriverStatement:
    return DriverStatement(sa.text("SELECT coalesce(max(rowid), 0) FROM bets"), dialect, [])


@functools.lru_cache(maxsize=8)
def _audit_placed_sqlite(dialect: sa.Dialect) -> DriverStatement:
    return DriverStatement(sa.text(_AUDIT_PLACED_SQLITE), dialect, [])


# --- PostgreSQL ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _add_to_pot_postgresql(dialect: sa.Dialect) -> DriverStatement:
    """The game's UPDATE ... RETURNING, and the CRAP asset's id (`crap_asset_id`) that a
    single bet's hold then need not look up: a round trip fewer."""
    g = games.c
    columns = [g[name] for name in GAME_COLUMNS]
    columns.append(ledger.asset_id_sql(CRAP).label("crap_asset_id"))
    statement = (
        sa.update(games)
        .where(g.id == sa.bindparam("game_id", type_=g.id.type))
        .values(
            # op("+"): the amount type's own `+` is SQLite's text concatenation
            pot_size=g.pot_size.op("+")(sa.bindparam("added", type_=g.pot_size.type)),
            updated_at=sa.bindparam("now", type_=g.updated_at.type),
        )
        .returning(*columns)
    )
    return DriverStatement(statement, dialect, columns)


@functools.lru_cache(maxsize=8)
def _copy(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> CopyStatement:
    return CopyStatement(table, columns, dialect, fields=columns)


# A player's row of a bet's audit: available CRAP before and after, as audit.audit_row writes
# an amount (a JSON number below 2**53, else decimal text, exact).
_JSON_AMOUNT = "CASE WHEN {0} < 9007199254740992 THEN to_jsonb({0}) ELSE to_jsonb(({0})::text) END"
_BALANCE_ROWS = f"""INSERT INTO games_audit_log ({", ".join(AUDIT_COLUMNS)})
SELECT :now, h.user_id, 'balance', h.user_id, 'bet',
       jsonb_build_object('balance', {_JSON_AMOUNT.format("t.balance + h.held")}),
       jsonb_build_object('balance', {_JSON_AMOUNT.format("t.balance")})
FROM unnest(CAST(:players AS VARCHAR[]), CAST(:held AS NUMERIC[])) AS h (user_id, held)
CROSS JOIN LATERAL (SELECT balance FROM token_balances WHERE user_id = h.user_id OFFSET 0) t"""
# LATERAL ... OFFSET 0 (kept apart from the outer query): each player's row is found alone.
# A plain join was planned (100 players) as a walk of every CRAP account, filtered by owner:
# half of this statement's time.


_BET_COLUMNS_BUT_HOLD = tuple(name for name in BET_COLUMNS if name != "hold_transfer_id")
# A bet's audit row (as _placed_row makes it), from the bet just inserted.
_BET_LOGGED = f"""bet_logged AS (INSERT INTO games_audit_log ({", ".join(AUDIT_COLUMNS)})
SELECT created_at, player_id, 'bet', encode(id, 'hex'), 'place', 'null'::jsonb,
       jsonb_build_object('game_id', game_id, 'bet_type', bet_type,
                          'amount', {_JSON_AMOUNT.format("amount")},
                          'hold_transfer_id', hold_transfer_id)
FROM placed)"""


_BETS_LOGGED_BY_HOLDS = _BET_LOGGED.replace(
    "FROM placed)",
    "FROM bets WHERE hold_transfer_id = ANY(CAST(:hold_ids AS BIGINT[])) "
    "ORDER BY hold_transfer_id)",
)


@functools.lru_cache(maxsize=8)
def _one_bet_ctes(game_count: int) -> tuple[str, tuple[sa.BindParameter[Any], ...]]:
    """rows_with_hold's WITH items and their binds, for one bet on `game_count` games."""
    values, bet_binds = _values_sql(bets, _BET_COLUMNS_BUT_HOLD, 1, "b")
    placed = (
        f"placed AS (INSERT INTO bets ({', '.join(_BET_COLUMNS_BUT_HOLD)}, hold_transfer_id) "
        f"{values.removesuffix(')')}, :hold_id) RETURNING {', '.join(BET_COLUMNS)})"
    )
    game_values, game_binds = _values_sql(games_audit_log, AUDIT_COLUMNS, game_count, "a")
    logged = f"logged AS (INSERT INTO games_audit_log ({', '.join(AUDIT_COLUMNS)}) {game_values})"
    ctes = f"{placed}, {_BET_LOGGED}, {logged}, balanced AS ({_BALANCE_ROWS})"
    return ctes, (*bet_binds, *game_binds, *_balance_binds())


def _balance_binds() -> list[sa.BindParameter[Any]]:
    return [
        sa.bindparam("now", type_=games_audit_log.c.occurred_at.type),
        sa.bindparam("players", type_=postgresql.ARRAY(sa.String())),
        sa.bindparam("held", type_=postgresql.ARRAY(sa.Numeric())),
    ]


@functools.lru_cache(maxsize=COPY_ROWS_MIN * 4)
def _insert_all_postgresql(
    dialect: sa.Dialect, bet_count: int, audit_count: int, *, by_holds: bool = False
) -> DriverStatement:
    """WITH placed AS (INSERT INTO bets VALUES ...), logged AS (INSERT INTO games_audit_log
    VALUES ...) INSERT INTO games_audit_log SELECT ... FROM token_balances: the bets, their
    audit rows and the players' balance rows in one statement, one round trip (a
    data-modifying WITH always runs); one statement per number of rows. Without rows, the
    balance rows alone. (Arrays through unnest() for the bets took 40 % longer for a single
    bet: psycopg encodes each array in Python.) by_holds: the audit rows of the bets whose
    holds are :hold_ids too, made from the stored bets."""
    binds = _balance_binds()
    parts = []
    if by_holds:
        parts.append(_BETS_LOGGED_BY_HOLDS)
        binds.append(sa.bindparam("hold_ids", type_=postgresql.ARRAY(sa.BigInteger())))
    for name, table, columns, count, prefix in (
        ("placed", bets, BET_COLUMNS, bet_count, "b"),
        ("logged", games_audit_log, AUDIT_COLUMNS, audit_count, "a"),
    ):
        if count:
            values, row_binds = _values_sql(table, columns, count, prefix)
            parts.append(f"{name} AS (INSERT INTO {table.name} ({', '.join(columns)}) {values})")
            binds += row_binds
    sql = (f"WITH {', '.join(parts)} " if parts else "") + _BALANCE_ROWS
    return DriverStatement(sa.text(sql).bindparams(*binds), dialect, [])


def _values_sql(
    table: sa.Table, columns: tuple[str, ...], count: int, prefix: str
) -> tuple[str, list[sa.BindParameter[Any]]]:
    """`VALUES (:b0_id, ...), (:b1_id, ...)` and its binds, typed as the table's columns."""
    names = [[f"{prefix}{n}_{column}" for column in columns] for n in range(count)]
    sql = "VALUES " + ", ".join(f"({', '.join(f':{name}' for name in row)})" for row in names)
    binds = [
        sa.bindparam(name, type_=table.c[column].type)
        for row in names
        for name, column in zip(row, columns, strict=True)
    ]
    return sql, binds
