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
    EncryptionKeyError,
    InvalidInput,
    MigrationError,
    MigrationLockTimeout,
    NotFound,
)


def connect(url: str | None = None, *, settings: Settings | None = None) -> Database:
    """Open the chaindb database at `url` (or from the environment; see chaindb.config), with
    `settings` (default: from the environment)."""
    return Database(resolve_url(url), settings or Settings.from_env())


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
    "EncryptionKeyError",
    "InvalidInput",
    "MigrationError",
    "MigrationLockTimeout",
    "NotFound",
    "Settings",
    "connect",
]
