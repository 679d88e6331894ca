"""Settings from the environment: where the database is and how to talk to it."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from chaindb.errors import ConfigError

DEFAULT_URL = "sqlite:///./chaindb.sqlite3"
DEFAULT_POSTGRES_PORT = 5432
SETTING_NUMBER_MAX = 1e6  # seconds (11 days) or pool sizes: anything larger is a typo
PORT_MAX = 65_535
POOLERS = ("none", "transaction")
CONNECTIONS_MAX = 1_000  # per process: more is a typo (PostgreSQL's default cap is 100)
_URL_SHAPE = (
    "expected sqlite:///path or postgresql://user@host:port/name (a password follows the "
    "user: user:password@)"
)
_PORT_RULE = f"the port must be a number from 1 to {PORT_MAX}"
_IPV6_RULE = "an IPv6 host must be a valid address in brackets, as in postgresql://user@[::1]/name"
# The password of any URL in a text: scheme://user:PASSWORD@ (the URL need not parse).
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
# A query parameter that carries a secret (libpq's password and sslpassword, API keys, tokens).
_SECRET_NAME = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)
_SECRET_PARAMETER = re.compile(
    r"([?&;]\s*[\w.-]*(?:pass|pwd|secret|token|key)[\w.-]*\s*=)[^&;\s'\"]*", re.IGNORECASE
)


@dataclass(frozen=True)
class Settings:
    """Every knob chaindb reads from the environment, with its default. Built by hand (the
    Python API) or by from_env; either way a value that breaks its rule is refused with the
    setting's name and the rule."""

    statement_timeout_s: float = 30.0
    pool_size: int = 5  # connections kept open; max_connections caps the total
    max_connections: int = 15  # per process, on either backend (seed 002: max_connections)
    connection_timeout_s: float = 30.0  # connect, wait for a pooled connection, SQLite busy
    idle_timeout_s: float = 300.0  # a pooled connection idle longer is replaced (0: never)
    checkpoint_interval_s: float = 60.0  # SQLite: WAL checkpoint at most this often (0: off)
    sqlite_synchronous: str = "FULL"  # a committed payment survives a power cut
    sqlite_key: str = field(default="", repr=False)  # SQLCipher passphrase ("": plain SQLite)
    migration_lock_timeout_s: float = 120.0
    ddl_lock_timeout_s: float = 5.0
    # PostgreSQL behind a pooler that hands a server connection out per transaction
    # (PgBouncer's pool_mode=transaction): chaindb then keeps no state in a session.
    pooler: str = "none"
    read_urls: tuple[str, ...] = ()  # hot standbys for reads that may be slightly stale
    replica_lag_max_s: float = 10.0  # a replica further behind is skipped
    replica_wait_s: float = 0.5  # read-your-writes: how long to wait for a replica to catch up
    # Where `chaindb push` finds the application's tables: package.module:metadata.
    push_schema: str | None = None

    def __post_init__(self) -> None:
        for name, rule in _RULES.items():
            value = getattr(self, name)
            problem = rule(value)
            if problem is not None:
                shown = "the key" if name == "sqlite_key" else repr(value)  # a secret
                raise ConfigError(f"{name} ({_ENV_NAMES[name]}): {shown} is invalid: {problem}")

    @property
    def pool_max_overflow(self) -> int:
        """Connections opened beyond pool_size when all are busy, closed when returned."""
        return self.max_connections - min(self.pool_size, self.max_connections)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        synchronous = env.get("CHAINDB_SQLITE_SYNCHRONOUS", cls.sqlite_synchronous).upper()
        if synchronous not in _SYNCHRONOUS:
            raise ConfigError(
                f"CHAINDB_SQLITE_SYNCHRONOUS: '{synchronous}' is invalid: "
                "must be OFF, NORMAL, FULL or EXTRA"
            )
        pool_size = _whole(env, "CHAINDB_POOL_SIZE", cls.pool_size)
        return cls(
            statement_timeout_s=_number(
                env, "CHAINDB_STATEMENT_TIMEOUT_S", cls.statement_timeout_s
            ),
            pool_size=pool_size,
            max_connections=_max_connections(env, pool_size),
            connection_timeout_s=_number(
                env, "CHAINDB_CONNECTION_TIMEOUT_S", cls.connection_timeout_s
            ),
            idle_timeout_s=_number(env, "CHAINDB_IDLE_TIMEOUT_S", cls.idle_timeout_s),
            checkpoint_interval_s=_number(
                env, "CHAINDB_CHECKPOINT_INTERVAL_S", cls.checkpoint_interval_s
            ),
            sqlite_synchronous=synchronous,
            sqlite_key=env.get("CHAINDB_SQLITE_KEY", ""),
            migration_lock_timeout_s=_number(
                env, "CHAINDB_MIGRATION_LOCK_TIMEOUT_S", cls.migration_lock_timeout_s
            ),
            ddl_lock_timeout_s=_number(env, "CHAINDB_DDL_LOCK_TIMEOUT_S", cls.ddl_lock_timeout_s),
            pooler=_pooler(env),
            read_urls=_read_urls(env),
            replica_lag_max_s=_number(env, "CHAINDB_REPLICA_LAG_MAX_S", cls.replica_lag_max_s),
            replica_wait_s=_number(env, "CHAINDB_REPLICA_WAIT_S", cls.replica_wait_s),
            push_schema=env.get("CHAINDB_PUSH_SCHEMA", "").strip() or None,
        )

    @property
    def pooled(self) -> bool:
        """Behind a transaction pooler: nothing may outlive a transaction on its connection."""
        return self.pooler == "transaction"


def _pooler(env: Mapping[str, str]) -> str:
    pooler = (env.get("CHAINDB_POOLER") or "none").lower()
    if pooler not in POOLERS:
        raise ConfigError(
            f"CHAINDB_POOLER: '{pooler}' is invalid: must be none or transaction "
            "(PgBouncer in pool_mode=transaction; session mode needs none)"
        )
    return pooler


def _read_urls(env: Mapping[str, str]) -> tuple[str, ...]:
    """CHAINDB_READ_URLS: PostgreSQL URLs of streaming replicas, separated by commas."""
    raw = env.get("CHAINDB_READ_URLS") or ""
    urls = tuple(part.strip() for part in raw.split(",") if part.strip())
    for url in urls:
        if normalise_url(url).get_backend_name() != "postgresql":
            raise ConfigError(
                f"CHAINDB_READ_URLS: {mask_text(url)!r} is invalid: a replica is a PostgreSQL URL"
            )
    return urls


_SYNCHRONOUS = {"OFF", "NORMAL", "FULL", "EXTRA"}
_RAW_KEY = re.compile(r"x'(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{96})'")
_ENV_NAMES = {
    "statement_timeout_s": "CHAINDB_STATEMENT_TIMEOUT_S",
    "pool_size": "CHAINDB_POOL_SIZE",
    "max_connections": "CHAINDB_MAX_CONNECTIONS",
    "connection_timeout_s": "CHAINDB_CONNECTION_TIMEOUT_S",
    "idle_timeout_s": "CHAINDB_IDLE_TIMEOUT_S",
    "checkpoint_interval_s": "CHAINDB_CHECKPOINT_INTERVAL_S",
    "sqlite_synchronous": "CHAINDB_SQLITE_SYNCHRONOUS",
    "sqlite_key": "CHAINDB_SQLITE_KEY",
    "migration_lock_timeout_s": "CHAINDB_MIGRATION_LOCK_TIMEOUT_S",
    "ddl_lock_timeout_s": "CHAINDB_DDL_LOCK_TIMEOUT_S",
}


def _seconds(*, zero: str | None) -> Callable[[Any], str | None]:
    """The rule of a duration: a number of seconds up to SETTING_NUMBER_MAX; 0 allowed only
    where it means something (`zero` says what)."""

    def rule(value: Any) -> str | None:
        shown = (
            f"from 0 to {SETTING_NUMBER_MAX:g} seconds ({zero})"
            if zero
            else (f"more than 0 and at most {SETTING_NUMBER_MAX:g} seconds")
        )
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and 0 <= value <= SETTING_NUMBER_MAX and (value > 0 or zero):
            return None  # the range also refuses nan and inf
        return f"must be {shown}"

    return rule


def _count(low: int) -> Callable[[Any], str | None]:
    def rule(value: Any) -> str | None:
        whole = isinstance(value, int) and not isinstance(value, bool)
        if whole and low <= value <= CONNECTIONS_MAX:
            return None
        return f"must be a whole number from {low} to {CONNECTIONS_MAX}"

    return rule


def _key(value: Any) -> str | None:
    """A passphrase, or SQLCipher's raw key x'<64 hex digits>' (96 with the salt)."""
    if not isinstance(value, str) or "\x00" in value:
        return "must be text without NUL characters"
    if value.startswith("x'") and not _RAW_KEY.fullmatch(value):
        return "a raw key must be x'<64 hex digits>' (or 96 with the salt)"
    return None


def _synchronous(value: Any) -> str | None:
    return None if value in _SYNCHRONOUS else "must be OFF, NORMAL, FULL or EXTRA"


_RULES: dict[str, Callable[[Any], str | None]] = {
    "statement_timeout_s": _seconds(zero="0: no limit"),
    "pool_size": _count(1),  # SQLAlchemy reads 0 as "no limit"
    "max_connections": _count(1),
    "connection_timeout_s": _seconds(zero=None),
    "idle_timeout_s": _seconds(zero="0: never"),
    "checkpoint_interval_s": _seconds(zero="0: off"),
    "sqlite_synchronous": _synchronous,
    "sqlite_key": _key,
    "migration_lock_timeout_s": _seconds(zero="0: do not wait"),
    "ddl_lock_timeout_s": _seconds(zero="0: no limit"),
}


def _max_connections(env: Mapping[str, str], pool_size: int) -> int:
    """CHAINDB_MAX_CONNECTIONS; or, as before it existed, pool size + CHAINDB_POOL_MAX_OVERFLOW."""
    total, overflow = env.get("CHAINDB_MAX_CONNECTIONS"), env.get("CHAINDB_POOL_MAX_OVERFLOW")
    if total and overflow:
        raise ConfigError(
            "CHAINDB_POOL_MAX_OVERFLOW: is invalid beside CHAINDB_MAX_CONNECTIONS: "
            "set one of them (max connections = pool size + overflow)"
        )
    if overflow:
        return pool_size + _whole(env, "CHAINDB_POOL_MAX_OVERFLOW", 0)
    return _whole(env, "CHAINDB_MAX_CONNECTIONS", Settings.max_connections)


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    value = _number(env, name, default)
    if value != int(value):
        raise ConfigError(f"{name}: '{env.get(name)}' is invalid: must be a whole number")
    return int(value)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: '{raw}' is invalid: must be a number") from None
    if not 0 <= value <= SETTING_NUMBER_MAX:  # also refuses nan and inf
        raise ConfigError(
            f"{name}: '{raw}' is invalid: must be between 0 and {SETTING_NUMBER_MAX:g}"
        )
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
            port=_port(env.get("DB_PORT") or str(DEFAULT_POSTGRES_PORT)),
            database=env.get("DB_NAME") or None,
        )
    return normalise_url(DEFAULT_URL)


def _port(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= PORT_MAX):
        raise ConfigError(f"DB_PORT: {raw!r} is invalid: {_PORT_RULE}")
    return int(raw)


def normalise_url(raw: str) -> URL:
    """Accept what users paste: postgres://, postgresql://, sqlite:///path."""
    problem = _url_problem(raw)
    if problem is not None:
        raise ConfigError(f"database URL {mask_text(raw)!r} is invalid: {problem}")
    url = make_url(raw)
    backend = url.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite")
    raise ConfigError(
        f"database URL backend '{backend}' is not supported: use sqlite or postgresql"
    )


def _url_problem(raw: str) -> str | None:
    """What is wrong with the URL, in words; None when SQLAlchemy can use it."""
    try:
        url = make_url(raw)
    except ArgumentError:
        return _URL_SHAPE
    except ValueError:  # SQLAlchemy read a port it could not convert
        try:
            _ = urlsplit(raw).port  # the standard library tells a bad IPv6 host apart
        except ValueError as error:
            return _IPV6_RULE if "IPv6" in str(error) else _PORT_RULE
        return _PORT_RULE
    if url.port is not None and not 1 <= url.port <= PORT_MAX:
        return _PORT_RULE
    if url.host is not None and ":" in url.host:  # written in brackets: an IPv6 address
        try:
            ipaddress.IPv6Address(url.host)
        except ValueError:
            return _IPV6_RULE
    return None


def masked(url: URL) -> str:
    """The URL as it may be shown anywhere: its password, and any query parameter that holds
    a secret (`?password=`, `?sslpassword=`, `?token=`), replaced by ***; no driver name."""
    hidden = {name: "***" for name in url.query if _SECRET_NAME.search(name)}
    shown = url.set(drivername=url.get_backend_name()).update_query_dict(hidden)
    return shown.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def secrets_of(url: URL) -> list[str]:
    """The secrets a URL carries (its password, secret query values), to mask in any text."""
    found = [url.password] if url.password else []
    for name, value in url.query.items():
        if _SECRET_NAME.search(name):
            found += [value] if isinstance(value, str) else list(value)
    return [str(secret) for secret in found if secret]


def mask_text(text: str, password: str | None = None) -> str:
    """Remove a password from free text (error messages, raw URLs, URLs that do not parse).
    The password is masked where it stands as a whole word: a short one must not mask (and so
    reveal) every letter it shares with the message."""
    if password:
        text = re.sub(rf"(?<![\w]){re.escape(password)}(?![\w])", "***", text)
    return _SECRET_PARAMETER.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))
