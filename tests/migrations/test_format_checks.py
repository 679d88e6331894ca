"""PostgreSQL alone (SQLite's format CHECKs never were regexes): a database whose address,
hash, signature and id CHECKs have the old bounded-repeat spelling gets the fast one from the
*_fast_format_checks revisions, exactly as a database built from scratch has it, and the rules
still refuse what they refused."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from chaindb import migrations

on_postgres = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

RESPELLING = {
    "core": "core_0006",
    "ledger": "ledger_0006",
    "chain": "chain_0003",
    "challenges": "challenges_0004",
    "assets": "assets_0007",
    "tokens": "tokens_0002",
    "creators": "creators_0003",
}
_COLUMN = r"(?P<col>\w+|\(\w+\)::text)"
_CLASS = r"'\^(?P<prefix>[0-9a-z]*)\[(?P<chars>[^]]+)\]\*\$'::text"
# The fast spelling as PostgreSQL prints it (BETWEEN comes back as >= and <=).
FAST = re.compile(
    rf"\(\(length\({_COLUMN}\) = (?P<low>\d+)\) AND \((?P=col) ~ {_CLASS}\)\)"
    rf"|\(\(\(length\({_COLUMN.replace('col', 'rcol')}\) >= (?P<rlow>\d+)\) AND "
    rf"\(length\((?P=rcol)\) <= (?P<high>\d+)\)\) AND \((?P=rcol) ~ "
    + _CLASS.replace("prefix", "rprefix").replace("chars", "rchars")
    + r"\)\)"
)
BOUNDED = re.compile(r"\]\{\d+(?:,\d+)?\}\$'")


def slow(match: re.Match[str]) -> str:
    """The old spelling of one fast atom: one regex with a bounded repeat."""
    if match["col"]:
        column, prefix, chars = match["col"], match["prefix"], match["chars"]
        low = high = int(match["low"])
    else:
        column, prefix, chars = match["rcol"], match["rprefix"], match["rchars"]
        low, high = int(match["rlow"]), int(match["high"])
    repeat = f"{low - len(prefix)}" + ("" if low == high else f",{high - len(prefix)}")
    return f"({column} ~ '^{prefix}[{chars}]{{{repeat}}}$'::text)"


def checks(conn: sa.Connection) -> dict[tuple[str, str], str]:
    rows = conn.exec_driver_sql(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE contype = 'c' AND conislocal"
    )
    return {(table, name): rule for table, name, rule in rows}


@on_postgres
def test_an_old_database_gets_the_fast_spelling_and_the_same_rules(core_db):
    with core_db.connection() as conn:
        built = checks(conn)
    fast = {key: rule for key, rule in built.items() if FAST.search(rule)}
    assert len(fast) > 60  # every module's addresses, hashes, signatures, ids
    with core_db.transaction() as conn:  # as a database built before 2026-12-02 has them
        for (table, name), rule in fast.items():
            conn.exec_driver_sql(
                f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
                f"ADD CONSTRAINT {name} {FAST.sub(slow, rule)}"
            )
    with core_db.connection() as conn:
        old = checks(conn)
    assert all(BOUNDED.search(old[key]) and not FAST.search(old[key]) for key in fast)

    for module, revision in RESPELLING.items():
        migrations.rollback(core_db, module=module, steps=1)
        assert [step.revision for step in migrations.migrate(core_db).steps] == [revision]

    with core_db.connection() as conn:
        assert checks(conn) == built

    def enqueue(key: str, owner: str, content_hash: str) -> None:
        with core_db.transaction() as conn:
            conn.exec_driver_sql(
                "INSERT INTO minting_queue (client_key, owner_address, metadata, "
                "content_arweave_tx_id, content_hash, scheduled_at) "
                "VALUES (%s, %s, '{}', %s, %s, now())",
                (key, owner, "a" * 43, content_hash),
            )

    owner, content_hash = "1" * 32, "0x" + "a" * 64
    enqueue("good", owner, content_hash)
    bad_hashes = ("0x" + "g" * 64, "0x" + "a" * 63, "0X" + "a" * 64, "a" * 66)
    for n, bad in enumerate(bad_hashes):
        with pytest.raises(IntegrityError, match="content_hash_hash32"):
            enqueue(f"hash{n}", owner, bad)
    for n, bad in enumerate(("1" * 31, "0" * 32, "l" * 40, "1" * 31 + "\n")):
        with pytest.raises(IntegrityError, match="owner_address_solana"):
            enqueue(f"owner{n}", bad, content_hash)
