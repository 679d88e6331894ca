"""chaindb: the off-chain database of an on-chain application.

import chaindb
db = chaindb.connect()               # CHAINDB_URL, DATABASE_URL, DB_*, else ./chaindb.sqlite3
chaindb.migrations.migrate(db)
"""

from __future__ import annotations

from chaindb.config import Settings, resolve_url
from chaindb.database import Database
from chaindb.errors import (
    ChaindbError,
    ConfigError,
    ConfirmationRequired,
    Conflict,
    ConnectionFailed,
    ConnectionLost,
    DatabaseMissing,
    DataLossRefused,
    DestructiveMigration,
    InvalidInput,
    MigrationError,
    MigrationLockTimeout,
    NotFound,
)


def connect(url: str | None = None) -> Database:
    """Open the chaindb database at `url` (or from the environment; see chaindb.config)."""
    return Database(resolve_url(url), Settings.from_env())


__all__ = [
    "ChaindbError",
    "ConfigError",
    "ConfirmationRequired",
    "Conflict",
    "ConnectionFailed",
    "ConnectionLost",
    "DataLossRefused",
    "Database",
    "DatabaseMissing",
    "DestructiveMigration",
    "InvalidInput",
    "MigrationError",
    "MigrationLockTimeout",
    "NotFound",
    "connect",
]
