"""Reads over many assets: full-text search and the seed's three views."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.assets.ownership import MemoryAsset
from chaindb.assets.schema import (
    active_memory_assets,
    batch_statistics,
    memory_assets,
    user_statistics,
)
from chaindb.database import Database, reading, set_current_wallet
from chaindb.errors import InvalidInput
from chaindb.types import parse_solana_address
from chaindb.validation import Row, parse_limit

SEARCH_RESULTS_MAX = 1_000
SEARCH_WORDS_MAX = 32
SEARCH_QUERY_CHARS_MAX = 500
# What both backends' tokenizers keep as a word: letters and digits of any script.
_WORD = re.compile(r"[^\W_]+")


class ActiveAsset(Row):
    asset_id: str
    owner_address: str
    metadata: dict[str, Any]
    content_arweave_tx_id: str
    metadata_arweave_tx_id: str | None
    content_hash: str
    merkle_tree: str
    leaf_index: int
    version: int
    created_at: datetime
    updated_at: datetime
    batch_id: int | None
    batch_status: str | None
    batch_completed_at: datetime | None
    active_grant_count: int


class BatchDay(Row):
    date: date
    total_batches: int
    total_assets: int
    successful_batches: int
    failed_batches: int
    total_cost_lamports: int
    storage_cost_winston: int


class WalletStatistics(Row):
    wallet_address: str
    total_assets: int
    total_batches: int
    total_cost_lamports: int
    grants_given: int
    grants_received: int
    first_asset_at: datetime | None
    last_asset_at: datetime | None


def search_assets(
    target: Database | Connection,
    query: str,
    *,
    as_wallet: str | None = None,
    limit: int = 50,
) -> list[MemoryAsset]:
    """Assets whose metadata holds every word of `query` (any order, any case; whole words,
    no stemming), best match first: PostgreSQL's tsvector with a GIN index, SQLite's FTS5.
    With `as_wallet` on PostgreSQL as the service role: that wallet's assets only."""
    words = _words(query)
    limit = parse_limit(limit, SEARCH_RESULTS_MAX)
    with reading(target, stale_ok=True) as conn:
        if as_wallet is not None:
            set_current_wallet(conn, parse_solana_address(as_wallet, "as_wallet"))
        if conn.dialect.name == "postgresql":
            rows = _search_postgresql(conn, words, limit)
        else:
            rows = _search_sqlite(conn, words, limit)
        return [MemoryAsset.model_validate(row) for row in rows]


def _words(query: object) -> list[str]:
    if not isinstance(query, str) or len(query) > SEARCH_QUERY_CHARS_MAX:
        raise InvalidInput(
            "query", query, f"must be text of at most {SEARCH_QUERY_CHARS_MAX} characters"
        )
    words = _WORD.findall(query.lower())
    if not words:
        raise InvalidInput("query", query, "must hold at least one word (letters or digits)")
    if len(words) > SEARCH_WORDS_MAX:
        raise InvalidInput("query", query, f"must hold at most {SEARCH_WORDS_MAX} words")
    return words


def _search_postgresql(conn: Connection, words: list[str], limit: int) -> list[Any]:
    # Each word as a quoted lexeme, all of them required: nothing in a query is an operator.
    tsquery = " & ".join("'" + word.replace("'", "''") + "'" for word in words)
    return conn.execute(
        sa.text(
            """SELECT a.* FROM memory_asset_search s
JOIN memory_assets a ON a.asset_id = s.asset_id
WHERE s.document @@ to_tsquery('simple', :tsquery)
ORDER BY ts_rank(s.document, to_tsquery('simple', :tsquery)) DESC, a.asset_id
LIMIT :limit"""
        ).columns(*memory_assets.c),
        {"tsquery": tsquery, "limit": limit},
    ).all()


def _search_sqlite(conn: Connection, words: list[str], limit: int) -> list[Any]:
    # Each word as an FTS5 string (double quotes doubled): nothing in a query is an operator.
    match = " AND ".join('"' + word.replace('"', '""') + '"' for word in words)
    return conn.execute(
        sa.text(
            """SELECT a.* FROM memory_asset_search s
JOIN memory_assets a ON a.asset_id = s.asset_id
WHERE memory_asset_search MATCH :match
ORDER BY bm25(memory_asset_search), a.asset_id
LIMIT :limit"""
        ).columns(*memory_assets.c),
        {"match": match, "limit": limit},
    ).all()


def get_active_assets(
    target: Database | Connection, owner_address: str, *, limit: int = 100
) -> list[ActiveAsset]:
    """The seed's active_memory_assets for one owner: with batch status and grants in force."""
    owner = parse_solana_address(owner_address, "owner_address")
    limit = parse_limit(limit, SEARCH_RESULTS_MAX)
    with reading(target, stale_ok=True) as conn:
        set_current_wallet(conn, owner)
        rows = conn.execute(
            sa.select(active_memory_assets)
            .where(active_memory_assets.c.owner_address == owner)
            .order_by(active_memory_assets.c.created_at.desc())
            .limit(limit)
        )
        return [ActiveAsset.model_validate(row) for row in rows]


def get_batch_statistics(
    target: Database | Connection, *, since: date | None = None
) -> list[BatchDay]:
    """The seed's batch_statistics: per UTC day, newest first."""
    query = sa.select(batch_statistics).order_by(batch_statistics.c.date.desc())
    if since is not None:
        if not isinstance(since, date):
            raise InvalidInput("since", since, "must be a date")
        query = query.where(batch_statistics.c.date >= since)
    with reading(target, stale_ok=True) as conn:
        return [BatchDay.model_validate(row) for row in conn.execute(query)]


def get_user_statistics(target: Database | Connection, wallet: str) -> WalletStatistics | None:
    """The seed's user_statistics for one wallet (None if it has done nothing)."""
    wallet = parse_solana_address(wallet, "wallet")
    with reading(target, stale_ok=True) as conn:
        set_current_wallet(conn, wallet)
        row = conn.execute(
            sa.select(user_statistics).where(user_statistics.c.wallet_address == wallet)
        ).first()
    return None if row is None else WalletStatistics.model_validate(row)
