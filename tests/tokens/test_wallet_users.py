"""Seed 003's users are identified by a wallet: core makes a user and its primary wallet from
one address, once, on both backends (also when many workers ask at once)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from chaindb import InvalidInput, core
from chaindb.networks import BITCOIN_MAINNET, CKB_TESTNET
from tests.tokens.addresses import BTC_P2TR, EVM, ckb_user

WORKERS = 8


def count(db, table: str) -> int:
    with db.read() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def test_a_wallet_makes_its_user_once(core_db):
    address = ckb_user(1)
    wallet = core.ensure_wallet_user(
        core_db, wallet_address=address.upper(), chain_id=CKB_TESTNET, username="sita"
    )
    again = core.ensure_wallet_user(core_db, wallet_address=address, chain_id=CKB_TESTNET)
    assert again == wallet
    assert (wallet.wallet_address, wallet.is_primary) == (address, True)
    assert wallet.user_id == core.wallet_user_id(CKB_TESTNET, address)
    assert core.get_user(core_db, wallet.user_id).username == "sita"
    assert core.get_wallet_owner(core_db, chain_id=CKB_TESTNET, wallet_address=address) == (
        wallet.user_id
    )
    assert (count(core_db, "users"), count(core_db, "user_wallet_addresses")) == (1, 1)


def test_a_wallet_registered_by_hand_keeps_its_owner(core_db):
    core.create_user(core_db, "alice")
    core.add_user_wallet(
        core_db, user_id="alice", wallet_address=BTC_P2TR, chain_id=BITCOIN_MAINNET
    )
    wallet = core.ensure_wallet_user(core_db, wallet_address=BTC_P2TR, chain_id=BITCOIN_MAINNET)
    assert wallet.user_id == "alice"
    assert count(core_db, "users") == 1


def test_concurrent_callers_make_one_user_and_one_wallet(core_db):
    address = ckb_user(2)
    with ThreadPoolExecutor(WORKERS) as pool:
        wallets = list(
            pool.map(
                lambda _: core.ensure_wallet_user(
                    core_db, wallet_address=address, chain_id=CKB_TESTNET
                ),
                range(WORKERS),
            )
        )
    assert len({wallet.id for wallet in wallets}) == 1
    assert (count(core_db, "users"), count(core_db, "user_wallet_addresses")) == (1, 1)


def test_an_address_of_another_network_is_refused_and_writes_nothing(core_db):
    core.create_user(core_db, "alice")
    with pytest.raises(InvalidInput, match=r"wallet_address: .* CKB address") as refused:
        core.add_user_wallet(core_db, user_id="alice", wallet_address=EVM, chain_id=CKB_TESTNET)
    assert refused.value.field == "wallet_address"
    with pytest.raises(InvalidInput, match="wallet_address"):
        core.ensure_wallet_user(core_db, wallet_address=ckb_user(3), chain_id=BITCOIN_MAINNET)
    assert (count(core_db, "users"), count(core_db, "user_wallet_addresses")) == (1, 0)


def test_the_evm_and_solana_rules_are_unchanged_elsewhere(core_db):
    core.create_user(core_db, "alice")
    wallet = core.add_user_wallet(
        core_db, user_id="alice", wallet_address=EVM.lower(), chain_id=84532
    )
    assert wallet.wallet_address == EVM  # shown checksummed, as before
    with pytest.raises(InvalidInput, match="EVM address"):
        core.add_user_wallet(core_db, user_id="alice", wallet_address=BTC_P2TR, chain_id=84532)


def test_a_security_event_keeps_a_ckb_wallet(core_db):
    address = ckb_user(4)
    event = core.log_security_event(
        core_db, event_type="login", description="wallet login", wallet_address=address
    )
    assert event.wallet_address == address
    with pytest.raises(InvalidInput, match="wallet_address"):
        core.log_security_event(
            core_db, event_type="login", description="x", wallet_address=address[:-1] + "q"
        )


def test_the_database_refuses_an_address_no_network_has(core_db):
    """The CHECK backs the code: a wallet written past the API in upper case is refused."""
    core.create_user(core_db, "alice")
    with pytest.raises(sa.exc.IntegrityError), core_db.transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO user_wallet_addresses (user_id, wallet_address, chain_id) "
                "VALUES ('alice', :address, 'ckb:testnet')"
            ),
            {"address": ckb_user(5).upper()},
        )
