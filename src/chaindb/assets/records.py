"""The two ledgers every assets operation writes into its own transaction: the audit log
(blockchain_audit_logs) and what the operation cost (cost_tracking), with their readers."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles

from chaindb.assets.schema import blockchain_audit_logs, cost_tracking
from chaindb.database import Database, reading, writing
from chaindb.text import identifier
from chaindb.types import Lamports, SolanaAddress, Winston, amount_sum, utc_now
from chaindb.validation import Input, Row, parse_limit, validated

AUDIT_READ_MAX = 1_000
COST_DAYS_MAX = 3_660
Operation = identifier(32)
AuditStatus = Literal["success", "failure"]


class AuditEntry(Row):
    id: int
    operation: str
    asset_id: str | None
    wallet_address: str | None
    transaction_signature: str | None
    batch_id: int | None
    queue_id: int | None
    status: str
    details: dict[str, Any] | None
    timestamp: datetime


class NewCost(Input):
    wallet_address: SolanaAddress
    operation: Operation
    asset_id: SolanaAddress | None = None
    batch_id: int | None = None
    transaction_fee_lamports: Lamports = 0
    priority_fee_lamports: Lamports = 0
    rent_lamports: Lamports = 0
    storage_cost_lamports: Lamports = 0
    storage_cost_winston: Winston = 0

    @property
    def total_cost_lamports(self) -> int:
        return lamports_total(self)


def lamports_total(parts: Any) -> int:
    """The sum of a cost's parts in lamports (of a NewCost, or a MintedItem's: the winston
    figure is the storage part's source, already counted in lamports by
    storage_cost_lamports)."""
    return (
        parts.transaction_fee_lamports
        + parts.priority_fee_lamports
        + parts.rent_lamports
        + parts.storage_cost_lamports
    )


class Cost(Row):
    id: int
    wallet_address: str
    operation: str
    asset_id: str | None
    batch_id: int | None
    total_cost_lamports: int
    transaction_fee_lamports: int
    priority_fee_lamports: int
    rent_lamports: int
    storage_cost_lamports: int
    storage_cost_winston: int
    timestamp: datetime


class DailyCost(Row):
    """One row of the seed's "Track costs over time" query."""

    date: date
    operations: int
    total_cost: int
    avg_cost: int  # rounded down, so that it stays an exact integer of lamports


def audit(
    conn: Connection,
    operation: str,
    *,
    asset_id: str | None = None,
    wallet_address: str | None = None,
    transaction_signature: str | None = None,
    batch_id: int | None = None,
    queue_id: int | None = None,
    status: AuditStatus = "success",
    details: dict[str, Any] | None = None,
) -> None:
    """One audit row, in the caller's transaction (values already validated by the caller)."""
    conn.execute(
        blockchain_audit_logs.insert().values(
            operation=operation,
            asset_id=asset_id,
            wallet_address=wallet_address,
            transaction_signature=transaction_signature,
            batch_id=batch_id,
            queue_id=queue_id,
            status=status,
            details=details,
            timestamp=utc_now(),
        )
    )


def audit_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Many audit rows, in multi-row INSERTs (a batch's mints)."""
    if rows:
        now = utc_now()
        defaults = {
            "asset_id": None,
            "wallet_address": None,
            "transaction_signature": None,
            "batch_id": None,
            "queue_id": None,
            "status": "success",
            "details": None,
        }
        insert_rows(
            conn, blockchain_audit_logs, [{**defaults, **row, "timestamp": now} for row in rows]
        )


def insert_costs(conn: Connection, costs: list[NewCost]) -> None:
    """Cost rows (validated NewCost values), their totals derived here, never given."""
    if costs:
        now = utc_now()
        insert_rows(
            conn,
            cost_tracking,
            [
                {
                    **cost.model_dump(),
                    "total_cost_lamports": cost.total_cost_lamports,
                    "timestamp": now,
                }
                for cost in costs
            ],
        )


def insert_rows(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Rows (each with the same keys), one statement for them all. PostgreSQL: an `INSERT ...
    SELECT FROM unnest(...)` of one array per column, the same text whatever the row count, so
    psycopg prepares it once per connection (a multi-row VALUES has a new text for each row
    count, which psycopg parses again each time and SQLAlchemy compiles: measured, a third of a
    worker's CPU time for a batch's rows). SQLite: SQLAlchemy's "insertmanyvalues", multi-row
    `INSERT ... VALUES (...), (...)` from a statement compiled once, which it takes for an
    INSERT with RETURNING only (the first column comes back, unread)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _unnest_insert(conn.dialect, table, tuple(rows[0])).insert(conn, rows)
        return
    (first, *_rest) = list(table.primary_key.columns) or list(table.c)
    conn.execute(table.insert().returning(first), rows)


class _UnnestInsert:
    """PostgreSQL: rows into `table` by one INSERT of one array per column. Each value goes
    through its column type's bind processor, as SQLAlchemy would send it; the arrays are cast
    to the columns' types without their modifiers (an explicit cast to varchar(44) would cut a
    longer value where the column's own check refuses it). The arrays go in binary (`%b`):
    psycopg quotes each element of a text array with a regex."""

    def __init__(self, dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> None:
        quote = dialect.identifier_preparer
        names = ", ".join(quote.quote(name) for name in columns)
        arrays = ", ".join(
            f"CAST(%({name})b AS {_base_type(table.c[name].type, dialect)}[])" for name in columns
        )
        self.sql = (
            f"INSERT INTO {quote.format_table(table)} ({names}) SELECT * FROM unnest({arrays})"
        )
        self._processors = [
            (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in columns
        ]
        self._driver_error = dialect.loaded_dbapi.Error

    def insert(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        arrays = {
            name: [row[name] for row in rows]
            if process is None
            else [process(row[name]) for row in rows]
            for name, process in self._processors
        }
        driver = conn.connection.driver_connection
        try:
            with driver.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute(self.sql, arrays)
        except self._driver_error as error:  # the same exceptions as through SQLAlchemy
            raise DBAPIError.instance(self.sql, None, error, self._driver_error) from error


def _base_type(column_type: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> str:
    return column_type.compile(dialect=dialect).split("(")[0]


@functools.lru_cache(maxsize=64)
def _unnest_insert(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> _UnnestInsert:
    return _UnnestInsert(dialect, table, columns)


def record_cost(
    target: Database | Connection,
    *,
    wallet_address: str,
    operation: str,
    asset_id: str | None = None,
    transaction_fee_lamports: int = 0,
    priority_fee_lamports: int = 0,
    rent_lamports: int = 0,
    storage_cost_lamports: int = 0,
    storage_cost_winston: int = 0,
) -> Cost:
    """What an operation the application ran itself cost (an upload to Arweave, a fee).
    The total is the sum of the lamport parts."""
    cost = validated(
        NewCost,
        wallet_address=wallet_address,
        operation=operation,
        asset_id=asset_id,
        transaction_fee_lamports=transaction_fee_lamports,
        priority_fee_lamports=priority_fee_lamports,
        rent_lamports=rent_lamports,
        storage_cost_lamports=storage_cost_lamports,
        storage_cost_winston=storage_cost_winston,
    )
    with writing(target) as conn:
        row = conn.execute(
            cost_tracking.insert()
            .values(
                **cost.model_dump(),
                total_cost_lamports=cost.total_cost_lamports,
                timestamp=utc_now(),
            )
            .returning(cost_tracking)
        ).one()
        audit(conn, "cost", asset_id=asset_id, wallet_address=wallet_address)
    return Cost.model_validate(row)


def daily_costs(
    target: Database | Connection, wallet_address: str, *, days: int = 30
) -> list[DailyCost]:
    """The seed's cost query for one wallet: per UTC day, newest first, exact sums (index
    idx_cost_tracking_wallet_time: the wallet's rows of the last `days` days)."""
    wallet = validated(NewCost, wallet_address=wallet_address, operation="x").wallet_address
    days = parse_limit(days, COST_DAYS_MAX, "days")
    since = datetime.combine(utc_now().date() - timedelta(days=days - 1), time.min, tzinfo=UTC)
    day = _utc_day(cost_tracking.c.timestamp)
    query = (
        sa.select(
            day.label("date"),
            sa.func.count().label("operations"),
            amount_sum(cost_tracking.c.total_cost_lamports).label("total_cost"),
        )
        .where(cost_tracking.c.wallet_address == wallet, cost_tracking.c.timestamp >= since)
        .group_by(day)
        .order_by(day.desc())
    )
    with reading(target) as conn:
        rows = conn.execute(query).all()
    return [
        DailyCost(
            date=_as_date(row.date),
            operations=row.operations,
            total_cost=row.total_cost,
            avg_cost=row.total_cost // row.operations,
        )
        for row in rows
    ]


def get_audit_log(
    target: Database | Connection,
    *,
    asset_id: str | None = None,
    operation: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Audit rows, newest first (index idx_audit_logs_asset for an asset's, else
    idx_audit_logs_timestamp)."""
    limit = parse_limit(limit, AUDIT_READ_MAX)
    query = sa.select(blockchain_audit_logs)
    if asset_id is not None:
        query = query.where(blockchain_audit_logs.c.asset_id == asset_id)
    if operation is not None:
        query = query.where(blockchain_audit_logs.c.operation == operation)
    query = query.order_by(
        blockchain_audit_logs.c.timestamp.desc(), blockchain_audit_logs.c.id.desc()
    ).limit(limit)
    with reading(target) as conn:
        return [AuditEntry.model_validate(row) for row in conn.execute(query)]


class _utc_day(sa.sql.functions.FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """The UTC calendar day of a timestamp column."""

    type = sa.String()
    inherit_cache = True


@compiles(_utc_day)
def _utc_day_sql(element: _utc_day, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    if compiler.dialect.name == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"date({column})"


def _as_date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
