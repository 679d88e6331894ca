"""Where the database is: the URL's sources in order, and passwords kept out of sight."""

from __future__ import annotations

import pytest

import chaindb
from chaindb import ConfigError
from chaindb.config import Settings, masked, resolve_url


def test_the_argument_wins_then_chaindb_url_then_database_url():
    env = {"CHAINDB_URL": "sqlite:///a.db", "DATABASE_URL": "sqlite:///b.db", "DB_HOST": "h"}
    assert resolve_url("sqlite:///arg.db", env).database == "arg.db"
    assert resolve_url(None, env).database == "a.db"
    del env["CHAINDB_URL"]
    assert resolve_url(None, env).database == "b.db"


def test_db_parts_build_a_postgres_url():
    env = {
        "DB_HOST": "db.internal",
        "DB_PORT": "6543",
        "DB_NAME": "memory_platform",
        "DB_USER": "svc",
        "DB_PASSWORD": "s3cr3t",
    }
    url = resolve_url(None, env)
    assert (url.drivername, url.host, url.port, url.database, url.username) == (
        "postgresql+psycopg",
        "db.internal",
        6543,
        "memory_platform",
        "svc",
    )
    assert url.password == "s3cr3t"
    assert "s3cr3t" not in masked(url)


def test_default_is_the_embedded_sqlite_file():
    assert resolve_url(None, {}).render_as_string() == "sqlite:///./chaindb.sqlite3"


@pytest.mark.parametrize(
    "raw", ["postgres://u:p@h/d", "postgresql://u:p@h/d", "postgresql+psycopg://u:p@h/d"]
)
def test_plain_postgres_urls_use_psycopg3(raw):
    assert resolve_url(raw, {}).drivername == "postgresql+psycopg"


def test_unsupported_or_garbled_urls_are_clear_errors_without_the_password():
    with pytest.raises(ConfigError, match="not supported") as error:
        resolve_url("mysql://root:hunter2@h/d", {})
    assert "hunter2" not in str(error.value)
    with pytest.raises(ConfigError, match="invalid"):
        resolve_url("::::", {})


def test_the_database_repr_masks_the_password():
    db = chaindb.connect("postgresql://svc:hunter2@localhost:5/x")
    assert "hunter2" not in repr(db) and "***" in repr(db)
    db.close()


def test_settings_from_env_and_their_errors():
    settings = Settings.from_env(
        {"CHAINDB_STATEMENT_TIMEOUT_S": "2.5", "CHAINDB_SQLITE_SYNCHRONOUS": "full"}
    )
    assert (settings.statement_timeout_s, settings.sqlite_synchronous) == (2.5, "FULL")
    with pytest.raises(ConfigError, match="CHAINDB_SQLITE_SYNCHRONOUS"):
        Settings.from_env({"CHAINDB_SQLITE_SYNCHRONOUS": "sometimes"})
    with pytest.raises(ConfigError, match="CHAINDB_POOL_SIZE: 'many' is invalid"):
        Settings.from_env({"CHAINDB_POOL_SIZE": "many"})
    with pytest.raises(ConfigError, match="must be >= 0"):
        Settings.from_env({"CHAINDB_MIGRATION_LOCK_TIMEOUT_S": "-1"})


def test_a_sqlite_file_in_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        chaindb.connect(f"sqlite:///{tmp_path}/nope/db.sqlite3")
