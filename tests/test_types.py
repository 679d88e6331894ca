"""Exact, validated values: what goes in is checked once, what comes out is exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from chaindb import InvalidInput, core
from chaindb.core.schema import user_wallet_addresses
from chaindb.types import (
    BIGINT_MAX,
    EVM_CHAIN_ID_MAX,
    UINT256_MAX,
    amount_sum,
    display_address,
    parse_address,
    parse_amount,
    parse_chain_id,
    parse_tx_hash,
    parse_utc,
)

CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55's own example
SOLANA = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"
EVM_TX = "0x" + "ab" * 32
SOLANA_SIG = (
    "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
)


@pytest.mark.parametrize(
    "value", [0, 1, 2**63 - 1, 2**63, 2**64, UINT256_MAX, "42", str(UINT256_MAX)]
)
def test_amounts_in_range_are_accepted_exactly(value):
    assert parse_amount(value) == int(value)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (-1, "must be >= 0"),
        (2**256, "must be <= 2**256 - 1"),
        (1.5, "must be an integer"),
        (True, "must be an integer"),
        ("1e18", "non-negative integer"),
        ("-5", "non-negative integer"),
        (None, "must be an integer"),
    ],
)
def test_bad_amounts_name_the_field_and_rule(value, rule):
    with pytest.raises(InvalidInput) as error:
        parse_amount(value, "stake_amount_wei")
    assert error.value.field == "stake_amount_wei"
    assert rule in str(error.value)
    assert str(error.value).startswith("stake_amount_wei: ")


def test_evm_addresses_are_stored_lowercase_and_shown_checksummed():
    assert parse_address(CHECKSUMMED) == CHECKSUMMED.lower()
    assert parse_address(CHECKSUMMED.lower()) == CHECKSUMMED.lower()
    assert parse_address(CHECKSUMMED.upper().replace("0X", "0x")) == CHECKSUMMED.lower()
    assert display_address(CHECKSUMMED.lower()) == CHECKSUMMED


def test_a_mixed_case_address_with_a_bad_checksum_is_refused():
    broken = CHECKSUMMED[:-1] + ("D" if CHECKSUMMED[-1] == "d" else "d")
    with pytest.raises(InvalidInput, match="EIP-55 checksum"):
        parse_address(broken, "wallet_address")


@pytest.mark.parametrize("value", ["0x123", "0x" + "g" * 40, "not-an-address", "", 12, "0OIl" * 11])
def test_malformed_addresses_are_refused(value):
    with pytest.raises(InvalidInput, match="wallet_address"):
        parse_address(value, "wallet_address")


def test_solana_addresses_are_kept_as_given():
    assert parse_address(SOLANA) == SOLANA
    assert display_address(SOLANA) == SOLANA


def test_transaction_hashes():
    assert parse_tx_hash(EVM_TX.upper().replace("0X", "0x")) == EVM_TX
    assert parse_tx_hash(SOLANA_SIG) == SOLANA_SIG
    for bad in ("0x1234", "0x" + "ab" * 33, SOLANA, "zz"):
        with pytest.raises(InvalidInput, match="transaction_hash"):
            parse_tx_hash(bad)


def test_chain_ids_are_caip2():
    assert parse_chain_id(84532) == "eip155:84532"
    assert parse_chain_id("8453") == "eip155:8453"
    assert parse_chain_id("eip155:1") == "eip155:1"
    assert parse_chain_id("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp") == (
        "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
    )
    for bad in (0, -1, "eip155", "EIP155:1", "ab:1", "eip155:", True):
        with pytest.raises(InvalidInput, match="chain_id"):
            parse_chain_id(bad)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("eip155:abc", "decimal chain id"),
        ("eip155:01", "without leading zeros"),
        ("eip155:0", "between 1 and"),
        (10**40, f"between 1 and {EVM_CHAIN_ID_MAX}"),
        (str(10**40), f"between 1 and {EVM_CHAIN_ID_MAX}"),
        (EVM_CHAIN_ID_MAX + 1, "EIP-2294"),
        (f"eip155:{EVM_CHAIN_ID_MAX + 1}", "EIP-2294"),
        ("\u0661\u0662", "CAIP-2"),  # Arabic-Indic digits: not the chain 12
        ("eip155:\u0661\u0662", "CAIP-2"),
        ("eip155:1\n", "CAIP-2"),
        ("eip155:1\x00", "CAIP-2"),
        ("solana:" + "a" * 33, "CAIP-2"),
        ("x" * 42, "at most 41 characters"),
        ("1" * 5000, "at most 41 characters"),
        (1.0, "CAIP-2"),
    ],
)
def test_chain_ids_are_strict_caip2(value, rule):
    with pytest.raises(InvalidInput, match="chain_id") as error:
        parse_chain_id(value)
    assert rule in error.value.rule


def test_the_largest_evm_chain_id_fits_a_bigint():
    assert EVM_CHAIN_ID_MAX == 2**63 - 37 <= BIGINT_MAX
    assert parse_chain_id(EVM_CHAIN_ID_MAX) == f"eip155:{EVM_CHAIN_ID_MAX}"
    assert parse_chain_id(f"eip155:{EVM_CHAIN_ID_MAX}") == f"eip155:{EVM_CHAIN_ID_MAX}"


@pytest.mark.parametrize("parse", [parse_address, parse_tx_hash])
def test_a_final_newline_is_not_part_of_an_address_or_a_hash(parse):
    """`$` matched before a final newline: the newline was stored."""
    value = CHECKSUMMED.lower() if parse is parse_address else EVM_TX
    with pytest.raises(InvalidInput):
        parse(value + "\n")


def test_an_amount_written_with_thousands_of_digits_is_refused_by_its_length():
    with pytest.raises(InvalidInput, match="at most 78 digits"):
        parse_amount("9" * 5000)


def test_timestamps_must_be_aware_and_come_back_utc():
    plus_two = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_utc(plus_two) == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert parse_utc("2026-01-01T10:00:00+00:00").tzinfo == UTC
    with pytest.raises(InvalidInput, match="timezone-aware"):
        parse_utc(datetime(2026, 1, 1))


# --- stored: both backends --------------------------------------------------------------------

EDGE_AMOUNTS = [0, 1, 2**63 - 1, 2**63, 2**64 + 7, UINT256_MAX]


def add_wallets(db, amounts):
    core.create_user(db, "whale")
    wallets = []
    for index, amount in enumerate(amounts):
        wallet = core.add_user_wallet(
            db, user_id="whale", wallet_address="0x" + f"{index + 1:040x}", chain_id=1
        )
        wallets.append(core.update_wallet_balances(db, wallet.id, eth_balance=amount))
    return wallets


def test_amounts_round_trip_exactly(core_db):
    wallets = add_wallets(core_db, EDGE_AMOUNTS)
    assert [w.eth_balance for w in wallets] == EDGE_AMOUNTS
    stored = [w.eth_balance for w in core.get_user_wallets(core_db, "whale")]
    assert sorted(stored) == sorted(EDGE_AMOUNTS)


def test_amounts_sum_and_sort_exactly_in_the_database(core_db):
    add_wallets(core_db, [*EDGE_AMOUNTS, UINT256_MAX])
    column = user_wallet_addresses.c.eth_balance
    with core_db.read() as conn:
        total = conn.execute(sa.select(amount_sum(column))).scalar_one()
        ordered = conn.execute(sa.select(column).order_by(column.desc())).scalars().all()
        above = conn.execute(sa.select(sa.func.count()).where(column > 2**63)).scalar_one()
    assert total == sum(EDGE_AMOUNTS) + UINT256_MAX  # beyond uint256 itself, still exact
    assert ordered == sorted([*EDGE_AMOUNTS, UINT256_MAX], reverse=True)
    assert above == 3


def test_sum_of_no_rows_is_zero(core_db):
    with core_db.read() as conn:
        total = conn.execute(
            sa.select(amount_sum(user_wallet_addresses.c.eth_balance))
        ).scalar_one()
    assert total == 0


@pytest.mark.parametrize("amount", [-1, 2**256])
def test_out_of_range_amounts_are_refused_and_nothing_is_written(core_db, amount):
    (wallet,) = add_wallets(core_db, [5])
    with pytest.raises(InvalidInput, match="eth_balance"):
        core.update_wallet_balances(core_db, wallet.id, eth_balance=amount, usdc_balance=9)
    (after,) = core.get_user_wallets(core_db, "whale")
    assert (after.eth_balance, after.usdc_balance) == (5, 0)


def test_the_database_itself_refuses_bad_stored_amounts(core_db):
    """The CHECK constraints back the rule even for SQL written by hand."""
    add_wallets(core_db, [5])
    bad = "'-1'" if core_db.backend == "sqlite" else str(2**256)
    with pytest.raises(IntegrityError), core_db.transaction() as conn:
        conn.exec_driver_sql(f"UPDATE user_wallet_addresses SET eth_balance = {bad}")
    with pytest.raises(IntegrityError), core_db.transaction() as conn:
        conn.exec_driver_sql("UPDATE user_wallet_addresses SET wallet_address = '0xABC'")
    with pytest.raises(IntegrityError), core_db.transaction() as conn:
        conn.exec_driver_sql("UPDATE user_wallet_addresses SET chain_id = 'EIP155:1'")


def test_a_chain_id_too_large_for_a_bigint_is_refused_alike_and_writes_nothing(core_db):
    """It was a false Conflict on SQLite (its CHECK failed) and a raw DataError on
    PostgreSQL."""
    core.create_user(core_db, "alice")
    for chain_id in (10**40, "eip155:" + "9" * 32, "eip155:abc"):
        with pytest.raises(InvalidInput) as error:
            core.add_user_wallet(
                core_db, user_id="alice", wallet_address=CHECKSUMMED, chain_id=chain_id
            )
        assert error.value.field == "chain_id"
    assert core.get_user_wallets(core_db, "alice") == []


@pytest.mark.parametrize("field", ["nonce", "challenge_id"])
def test_integers_past_a_bigint_are_refused_alike_and_write_nothing(core_db, field):
    """SQLite raised OverflowError and PostgreSQL a raw DataError."""
    with pytest.raises(InvalidInput) as error:
        core.log_blockchain_transaction(
            core_db,
            chain_id=1,
            transaction_hash=EVM_TX,
            transaction_type="transfer",
            **{field: BIGINT_MAX + 1},
        )
    assert error.value.field == field
    assert core.get_blockchain_transaction(core_db, EVM_TX) is None
