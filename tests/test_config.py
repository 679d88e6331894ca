"""Where the database is: the URL's sources in order, and passwords kept out of sight."""

from __future__ import annotations

import pytest

import chaindb
from chaindb import ConfigError
from chaindb.config import Settings, mask_text, masked, normalise_url, resolve_url
from tests.conftest import run_cli


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
    for bad in ("-1", "nan", "inf", "1e9"):
        with pytest.raises(ConfigError, match="must be between 0 and"):
            Settings.from_env({"CHAINDB_MIGRATION_LOCK_TIMEOUT_S": bad})


def test_a_sqlite_file_in_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        chaindb.connect(f"sqlite:///{tmp_path}/nope/db.sqlite3")


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("postgresql://u:hunter2@host:abc/db", "the port must be a number from 1 to 65535"),
        ("postgresql://u:hunter2@host:99999/db", "the port must be a number from 1 to 65535"),
        ("postgresql://u:hunter2@host:0/db", "the port must be a number from 1 to 65535"),
        ("postgresql://u:hunter2@[::1/db", "an IPv6 host must be a valid address in brackets"),
        ("postgresql://u:hunter2@[zz::1]/db", "an IPv6 host must be a valid address in brackets"),
    ],
)
def test_a_url_with_a_bad_port_or_ipv6_host_is_one_clear_error(raw, rule):
    """Both were a ValueError traceback from inside SQLAlchemy."""
    with pytest.raises(ConfigError) as error:
        resolve_url(raw, {})
    message = str(error.value)
    assert message.startswith("database URL 'postgresql://u:***@") and rule in message
    assert "hunter2" not in message


def test_an_ipv6_host_in_brackets_is_accepted():
    assert resolve_url("postgresql://u@[::1]:5433/db", {}).host == "::1"


def test_db_port_must_be_a_port():
    with pytest.raises(ConfigError, match="DB_PORT: 'abc' is invalid: the port must be"):
        resolve_url(None, {"DB_HOST": "h", "DB_PORT": "abc"})


def test_a_password_is_masked_in_text_even_when_its_url_does_not_parse():
    text = "could not use postgresql://svc:s3cr/et@[::1/db nor postgres://a:b@h:x/y"
    assert (
        mask_text(text) == "could not use postgresql://svc:***@[::1/db nor postgres://a:***@h:x/y"
    )


@pytest.mark.parametrize(
    "raw", ["postgresql://u:hunter2@host:abc/db", "postgresql://u:hunter2@[::1/db"]
)
def test_the_command_prints_one_line_for_a_malformed_url(raw):
    result = run_cli("--url", raw, "status")
    assert result.returncode == 1
    assert result.stderr.startswith("error: database URL 'postgresql://u:***@")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_a_password_in_the_query_string_is_masked_too():
    url = normalise_url("postgresql://svc@db.internal:5432/app?password=hunter2&sslmode=require")
    assert masked(url) == "postgresql://svc@db.internal:5432/app?password=***&sslmode=require"
    assert "hunter2" not in repr(chaindb.connect(url.render_as_string(hide_password=False)))


def test_a_short_password_masks_whole_words_only():
    """Masking 'e' everywhere would garble the message and spell the password out."""
    message = 'connection failed: password authentication failed for user "svc"'
    assert mask_text(message, "e") == message
    assert mask_text("url postgresql://svc:e@h/db", "e") == "url postgresql://svc:***@h/db"


def test_replicas_and_the_pooler_from_env_and_their_errors():
    settings = Settings.from_env(
        {
            "CHAINDB_READ_URLS": "postgresql://app:pw@replica1/app, postgres://app@replica2/app",
            "CHAINDB_POOLER": "Transaction",
            "CHAINDB_REPLICA_LAG_MAX_S": "2.5",
        }
    )
    assert len(settings.read_urls) == 2 and settings.pooled
    assert settings.replica_lag_max_s == 2.5 and not Settings().pooled
    with pytest.raises(ConfigError, match="CHAINDB_POOLER: 'session' is invalid"):
        Settings.from_env({"CHAINDB_POOLER": "session"})
    with pytest.raises(ConfigError, match="CHAINDB_READ_URLS") as refused:
        Settings.from_env({"CHAINDB_READ_URLS": "sqlite:///replica.db"})
    assert "PostgreSQL" in str(refused.value)


def test_a_sqlite_database_ignores_read_urls(tmp_path):
    settings = Settings(read_urls=("postgresql://app@replica/app",))
    db = chaindb.Database(normalise_url(f"sqlite:///{tmp_path / 'x.sqlite3'}"), settings)
    assert db.replicas is None and db.replica_states() == []
    with db.replica_read() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    db.close()
