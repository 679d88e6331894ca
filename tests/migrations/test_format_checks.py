"""PostgreSQL alone (SQLite's format CHECKs never were regexes): the migrations before
2026-12-02 build the address, hash, signature and id CHECKs as bounded regex repeats, and keep
doing so; the *_fast_format_checks revisions respell every one of them as a length and a class
and back, and the rules still refuse what they refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from chaindb import migrations
from chaindb.networks import network_address_check
from chaindb.types import (
    address_check,
    arweave_tx_id_check,
    hash32_check,
    solana_address_check,
    solana_signature_check,
    tx_hash_check,
)

on_postgres = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

# Each module's respelling revision and the one before it, in dependency order.
RESPELLING = {
    "core": ("core_0005", "core_0006"),
    "ledger": ("ledger_0005", "ledger_0006"),
    "challenges": ("challenges_0003", "challenges_0004"),
    "chain": ("chain_0002", "chain_0003"),
    "assets": ("assets_0006", "assets_0007"),
    "tokens": ("tokens_0001", "tokens_0002"),
    "creators": ("creators_0002", "creators_0003"),
}
_COLUMN = r"(\w+|\(\w+\)::text)"
# A format atom in each spelling, as PostgreSQL prints it (BETWEEN comes back as >= and <=).
BOUNDED = re.compile(rf"\({_COLUMN} ~ '\^[0-9a-z]*\[[^]']+\]\{{\d+(?:,\d+)?\}}\$'::text\)")
FAST = re.compile(
    rf"\(\(length\({_COLUMN}\) = \d+\) AND \(\1 ~ '\^[0-9a-z]*\[[^]']+\]\*\$'::text\)\)"
    rf"|\(\(\(length\({_COLUMN}\) >= \d+\) AND \(length\(\2\) <= \d+\)\) AND "
    rf"\(\2 ~ '\^[0-9a-z]*\[[^]']+\]\*\$'::text\)\)"
)


def checks(db) -> dict[tuple[str, str], str]:
    with db.connection() as conn:
        rows = conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'c' AND conislocal"
        )
        return {(table, name): rule for table, name, rule in rows}


def atoms(rules: dict[tuple[str, str], str], spelling: re.Pattern[str]) -> int:
    return sum(len(spelling.findall(rule)) for rule in rules.values())


@on_postgres
def test_the_respelling_migrations_change_the_spelling_not_the_rules(db):
    for module, (before, _respelling) in RESPELLING.items():
        migrations.migrate(db, modules=[module], to=before)
    built_before = checks(db)  # what the migrations before 2026-12-02 build, and keep
    assert atoms(built_before, FAST) == 0
    assert atoms(built_before, BOUNDED) > 60  # every module's addresses, hashes, ids
    migrations.migrate(db)
    head = checks(db)
    assert atoms(head, BOUNDED) == 0
    assert atoms(head, FAST) == atoms(built_before, BOUNDED)
    assert head.keys() >= built_before.keys()  # and the modules with no format CHECK

    for module, (before, respelling) in RESPELLING.items():
        steps = migrations.rollback(db, before, module=module).steps
        assert [step.revision for step in steps] == [respelling]
    rolled_back = checks(db)
    assert {key: rolled_back[key] for key in built_before} == built_before
    migrations.migrate(db)
    assert checks(db) == head

    def enqueue(key: str, owner: str, content_hash: str) -> None:
        with db.transaction() as conn:
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


@pytest.mark.parametrize(
    ("check", "spelled_before"),
    [
        (address_check, "x ~ '^0x[0-9a-f]{40}$' OR x ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$'"),
        (tx_hash_check, "x ~ '^0x[0-9a-f]{64}$' OR x ~ '^[1-9A-HJ-NP-Za-km-z]{64,88}$'"),
        (hash32_check, "x ~ '^0x[0-9a-f]{64}$'"),
        (solana_address_check, "x ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$'"),
        (solana_signature_check, "x ~ '^[1-9A-HJ-NP-Za-km-z]{64,88}$'"),
        (arweave_tx_id_check, "x ~ '^[A-Za-z0-9_-]{43}$'"),
        (
            network_address_check,
            "x ~ '^0x[0-9a-f]{40}$' OR x ~ '^[1-9A-HJ-NP-Za-km-z]{26,44}$'"
            " OR x ~ '^[a-z]{1,83}1[02-9ac-hj-np-z]{6,}$'",
        ),
    ],
)
def test_the_old_migrations_spelling_is_kept_word_for_word(check, spelled_before):
    """What the helpers gave PostgreSQL before 2026-12-02, the old migrations still get (no
    database: the compiled CHECK)."""
    compiled = str(check("x").sqltext.compile(dialect=postgresql.dialect()))
    assert compiled == spelled_before
