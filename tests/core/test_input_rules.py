"""What core refuses at its edge, alike on SQLite and PostgreSQL: NUL anywhere, control and
invisible characters in identifiers, text and JSON past their bounds. Each refusal names the
field and writes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chaindb import InvalidInput, core
from chaindb.text import (
    DESCRIPTION_CHARS_MAX,
    METADATA_BYTES_MAX,
    RAW_TRANSACTION_BYTES_MAX,
)

TEN_MB = 10 * 1024 * 1024
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TX = "0x" + "ab" * 32
CORE_TABLES = (
    "users",
    "user_wallet_addresses",
    "blockchain_transactions",
    "contract_deployments",
    "admin_signatures_log",
    "security_events",
    "settings",
)


def row_counts(db) -> dict[str, int]:
    with db.read() as conn:
        return {
            table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in CORE_TABLES
        }


def event(db, **changes):
    values = {"event_type": "login_failed", "description": "bad password"}
    return core.log_security_event(db, **{**values, **changes})


def sent(db, **changes):
    values = {"chain_id": 1, "transaction_hash": TX, "transaction_type": "transfer"}
    return core.log_blockchain_transaction(db, **{**values, **changes})


def deployment(db, **changes):
    values = {"contract_name": "Escrow", "contract_address": ADDRESS, "chain_id": 1}
    return core.record_contract_deployment(db, **{**values, **changes})


def signature(db, **changes):
    values = {"admin_address": ADDRESS, "signature": "0x" + "11" * 65, "message": "resolve 7"}
    return core.log_admin_signature(db, **{**values, **changes})


# (what to call, the field it must name)
NUL_CASES = [
    (lambda db: core.create_user(db, "al\x00ice"), "user_id"),
    (lambda db: core.create_user(db, "alice", "al\x00ice"), "username"),
    (lambda db: core.ensure_user(db, "al\x00ice"), "user_id"),
    (lambda db: core.set_setting(db, "motd", "hi\x00"), "value"),
    (lambda db: core.set_setting(db, "motd", "hi", description="d\x00"), "description"),
    (lambda db: core.set_setting(db, "mo\x00td", "hi"), "key"),
    (lambda db: event(db, description="bad\x00password"), "description"),
    (lambda db: event(db, metadata={"ip": "1.2.3.4\x00"}), "metadata"),
    (lambda db: event(db, metadata={"k\x00": 1}), "metadata"),
    (lambda db: event(db, user_id="al\x00ice"), "user_id"),
    (lambda db: sent(db, user_id="al\x00ice"), "user_id"),
    (lambda db: deployment(db, contract_name="Esc\x00row"), "contract_name"),
    (lambda db: deployment(db, version="1\x00"), "version"),
    (lambda db: signature(db, message="resolve\x007"), "message"),
    (lambda db: signature(db, subject="s\x00"), "subject"),
    (lambda db: signature(db, winner="al\x00ice"), "winner"),
]


@pytest.mark.parametrize(("call", "field"), NUL_CASES)
def test_nul_is_refused_alike_naming_the_field_and_nothing_is_written(core_db, call, field):
    core.create_user(core_db, "alice")
    before = row_counts(core_db)
    with pytest.raises(InvalidInput) as error:
        call(core_db)
    assert error.value.field == field
    assert "must" in error.value.rule and "pattern" not in error.value.rule  # said in words
    assert row_counts(core_db) == before


def test_a_status_update_with_nul_in_its_error_message_is_refused(core_db):
    sent(core_db)
    with pytest.raises(InvalidInput, match="error_message"):
        core.update_blockchain_transaction_status(
            core_db, TX, "failed", block_number=5, error_message="out of gas\x00"
        )
    assert core.get_blockchain_transaction(core_db, TX).status == "pending"


@pytest.mark.parametrize("char", ["\t", "\n", "\x1b", "\u202e", "\u2066", "\u200b", "\ufeff"])
def test_identifiers_refuse_control_and_bidi_characters(core_db, char):
    with pytest.raises(InvalidInput, match="user_id"):
        core.create_user(core_db, f"admin{char}")
    with pytest.raises(InvalidInput, match="username"):
        core.create_user(core_db, "bob", f"admin{char}")
    with pytest.raises(InvalidInput, match="contract_name"):
        deployment(core_db, contract_name=f"Escrow{char}")
    assert row_counts(core_db)["users"] == 0


def test_free_text_keeps_newlines_and_tabs(core_db):
    text = "line one\n\tline two\r\n"
    core.set_setting(core_db, "motd", text, description=text)
    assert core.get_setting(core_db, "motd") == text
    assert event(core_db, description=text).description == text


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda db: core.set_setting(db, "motd", "hi", description="x" * TEN_MB), "description"),
        (lambda db: core.set_setting(db, "motd", "x" * TEN_MB), "value"),
        (lambda db: event(db, description="x" * TEN_MB), "description"),
        (lambda db: event(db, metadata={"blob": "x" * TEN_MB}), "metadata"),
        (lambda db: sent(db, raw_transaction="0x" + "ab" * TEN_MB), "raw_transaction"),
        (lambda db: signature(db, message="x" * TEN_MB), "message"),
        (lambda db: signature(db, message=None, typed_data={"x": "y" * TEN_MB}), "typed_data"),
        (lambda db: deployment(db, abi=[{"name": "x" * TEN_MB}]), "abi"),
    ],
)
def test_ten_megabytes_of_text_or_json_are_refused_and_nothing_is_written(core_db, call, field):
    with pytest.raises(InvalidInput) as error:
        call(core_db)
    assert error.value.field == field
    assert "at most" in error.value.rule
    assert len(str(error.value)) < 200  # the value is shown cut short
    assert row_counts(core_db) == dict.fromkeys(CORE_TABLES, 0)


def test_text_and_json_at_their_bounds_are_stored_whole(core_db):
    description = "é" * DESCRIPTION_CHARS_MAX
    metadata = {"blob": "x" * (METADATA_BYTES_MAX - len('{"blob":""}'))}
    stored = event(core_db, description=description, metadata=metadata)
    assert (stored.description, stored.metadata) == (description, metadata)
    raw = "0x" + "ab" * RAW_TRANSACTION_BYTES_MAX
    assert sent(core_db, raw_transaction=raw).raw_transaction == raw
    with pytest.raises(InvalidInput, match="raw_transaction"):
        sent(core_db, transaction_hash="0x" + "cd" * 32, raw_transaction=raw + "ab")
    with pytest.raises(InvalidInput, match="raw_transaction"):
        sent(core_db, transaction_hash="0x" + "cd" * 32, raw_transaction="0xabc")  # half a byte


def test_an_ip_address_with_a_zone_index_is_refused(core_db):
    for zoned in ("fe80::1%eth0", "fe80::1%\x00"):
        with pytest.raises(InvalidInput, match="ip_address"):
            event(core_db, ip_address=zoned)
    assert event(core_db, ip_address="2001:DB8::1").ip_address == "2001:db8::1"


@pytest.mark.parametrize(
    "lookup",
    [
        lambda db: core.get_user(db, "al\x00ice"),
        lambda db: core.get_user_wallets(db, "al\x00ice"),
        lambda db: core.get_setting(db, "mo\x00td"),
        lambda db: core.get_security_events(db, user_id="al\x00ice"),
        lambda db: core.get_security_events(db, event_type="log\x00in"),
        lambda db: core.get_recent_blockchain_transactions(db, user_id="al\x00ice"),
        lambda db: core.get_recent_blockchain_transactions(db, transaction_type="x\x00"),
        lambda db: core.get_contract_by_name(db, "Esc\x00row"),
        lambda db: core.get_admin_signatures(db, challenge_id=2**64),
    ],
)
def test_a_lookup_of_what_no_row_could_hold_is_refused_alike(core_db, lookup):
    """SQLite answered nothing (or overflowed); PostgreSQL raised a raw DataError."""
    with pytest.raises(InvalidInput):
        lookup(core_db)


@pytest.mark.parametrize("limit", ["10", 10.0, True, 0, 10**6, None])
def test_a_limit_must_be_an_integer_in_range(core_db, limit):
    for read in (
        core.get_security_events,
        core.get_recent_blockchain_transactions,
        core.get_admin_signatures,
    ):
        with pytest.raises(InvalidInput, match="limit"):
            read(core_db, limit=limit)
