"""Settings from the environment: where the database is and how to talk to it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from chaindb.errors import ConfigError

DEFAULT_URL = "sqlite:///./chaindb.sqlite3"
DEFAULT_POSTGRES_PORT = 5432


@dataclass(frozen=True)
class Settings:
    """Every knob chaindb reads from the environment, with its default."""

    statement_timeout_s: float = 30.0
    pool_size: int = 5
    pool_max_overflow: int = 10
    sqlite_synchronous: str = "FULL"  # a committed payment survives a power cut
    migration_lock_timeout_s: float = 120.0
    ddl_lock_timeout_s: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        synchronous = env.get("CHAINDB_SQLITE_SYNCHRONOUS", cls.sqlite_synchronous).upper()
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ConfigError(
                f"CHAINDB_SQLITE_SYNCHRONOUS: '{synchronous}' is invalid: "
                "must be OFF, NORMAL, FULL or EXTRA"
            )
        return cls(
            statement_timeout_s=_number(
                env, "CHAINDB_STATEMENT_TIMEOUT_S", cls.statement_timeout_s
            ),
            pool_size=int(_number(env, "CHAINDB_POOL_SIZE", cls.pool_size)),
            pool_max_overflow=int(_number(env, "CHAINDB_POOL_MAX_OVERFLOW", cls.pool_max_overflow)),
            sqlite_synchronous=synchronous,
            migration_lock_timeout_s=_number(
                env, "CHAINDB_MIGRATION_LOCK_TIMEOUT_S", cls.migration_lock_timeout_s
            ),
            ddl_lock_timeout_s=_number(env, "CHAINDB_DDL_LOCK_TIMEOUT_S", cls.ddl_lock_timeout_s),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: '{raw}' is invalid: must be a number") from None
    if value < 0:
        raise ConfigError(f"{name}: '{raw}' is invalid: must be >= 0")
    return value


def resolve_url(url: str | None = None, env: Mapping[str, str] | None = None) -> URL:
    """The database URL: argument, CHAINDB_URL, DATABASE_URL, DB_* parts, then embedded SQLite."""
    env = os.environ if env is None else env
    raw = url or env.get("CHAINDB_URL") or env.get("DATABASE_URL")
    if raw:
        return normalise_url(raw)
    if env.get("DB_HOST") or env.get("DB_NAME"):
        return URL.create(
            "postgresql+psycopg",
            username=env.get("DB_USER") or None,
            password=env.get("DB_PASSWORD") or None,
            host=env.get("DB_HOST") or "localhost",
            port=int(env.get("DB_PORT") or DEFAULT_POSTGRES_PORT),
            database=env.get("DB_NAME") or None,
        )
    return normalise_url(DEFAULT_URL)


def normalise_url(raw: str) -> URL:
    """Accept what users paste: postgres://, postgresql://, sqlite:///path."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            f"database URL {mask_text(raw)!r} is invalid: expected sqlite:///path or "
            "postgresql://user:password@host:port/name"
        ) from None
    backend = url.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite")
    raise ConfigError(
        f"database URL backend '{backend}' is not supported: use sqlite or postgresql"
    )


def masked(url: URL) -> str:
    """The URL as it may be shown anywhere: the password replaced by ***, no driver name."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def mask_text(text: str, password: str | None = None) -> str:
    """Remove a password from free text (error messages, raw URLs)."""
    if password:
        text = text.replace(password, "***")
    try:
        url = make_url(text)
    except ArgumentError:
        return text
    return url.render_as_string(hide_password=True) if url.password else text
