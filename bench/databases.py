"""Throwaway databases for the benchmarks: a SQLite file, a PostgreSQL database."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

import chaindb
from chaindb import core, ledger

PG_SKIPPED = "skipped: set CHAINDB_TEST_PG_URL or run `make bench`"
FUNDING_BATCH = 10_000  # ledger.transfer_batch's own maximum


def postgres_admin_url() -> str | None:
    """The server to benchmark on: CHAINDB_BENCH_PG_URL, else the one `make bench` started."""
    return os.environ.get("CHAINDB_BENCH_PG_URL") or os.environ.get("CHAINDB_TEST_PG_URL")


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'bench.sqlite3'}"


@contextmanager
def postgres_url(admin_url: str, *, template: str | None = None) -> Iterator[str]:
    """A fresh database on the server at `admin_url` (a copy of `template`), dropped
    afterwards."""
    name = f"chaindb_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        copied = f' TEMPLATE "{template}"' if template else ""
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copied}')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


def create_users(db: chaindb.Database, count: int) -> None:
    """Users u0 … u<count - 1>, in one transaction."""
    with db.transaction() as conn:
        for number in range(count):
            core.create_user(conn, f"u{number}")


def fund_users(db: chaindb.Database, *, count: int, amount: int) -> None:
    """`amount` points from system:issuance to each of u0 … u<count - 1> (their accounts are
    created by the deposit), in batches."""
    for start in range(0, count, FUNDING_BATCH):
        users = range(start, min(count, start + FUNDING_BATCH))
        deposit = {"debit": "system:issuance", "amount": amount, "kind": "deposit"}
        ledger.transfer_batch(db, [{**deposit, "credit": f"user:u{n}"} for n in users])
