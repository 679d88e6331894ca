"""Wallets: many per user, one primary per user and chain, switched atomically."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from chaindb import Conflict, InvalidInput, NotFound, core

ALICE_BASE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
OTHER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
SOLANA = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"


def address(n: int) -> str:
    return "0x" + f"{n:040x}"


@pytest.fixture
def alice(core_db):
    core.create_user(core_db, "alice", "alice")
    return core_db


def count_wallets(db) -> int:
    with db.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM user_wallet_addresses")).scalar_one()


def test_first_wallet_on_a_chain_becomes_primary_and_is_shown_checksummed(alice):
    wallet = core.add_user_wallet(
        alice,
        user_id="alice",
        wallet_address=ALICE_BASE.lower(),
        chain_id=84532,
        wallet_type="privy",
    )
    assert wallet.is_primary
    assert wallet.wallet_address == ALICE_BASE
    assert wallet.chain_id == "eip155:84532"
    second = core.add_user_wallet(alice, user_id="alice", wallet_address=OTHER, chain_id=84532)
    assert not second.is_primary
    assert core.get_user_primary_wallet(alice, "alice", 84532).id == wallet.id


def test_adding_a_primary_wallet_demotes_the_previous_one(alice):
    first = core.add_user_wallet(alice, user_id="alice", wallet_address=ALICE_BASE, chain_id=1)
    second = core.add_user_wallet(
        alice, user_id="alice", wallet_address=OTHER, chain_id=1, is_primary=True
    )
    wallets = {w.id: w.is_primary for w in core.get_user_wallets(alice, "alice")}
    assert wallets == {first.id: False, second.id: True}


def test_primary_is_per_chain(alice):
    core.add_user_wallet(alice, user_id="alice", wallet_address=ALICE_BASE, chain_id=1)
    core.add_user_wallet(alice, user_id="alice", wallet_address=ALICE_BASE, chain_id=8453)
    core.add_user_wallet(alice, user_id="alice", wallet_address=SOLANA, chain_id="solana:mainnet")
    assert [w.is_primary for w in core.get_user_wallets(alice, "alice")] == [True, True, True]


def test_set_primary_wallet_switches(alice):
    first = core.add_user_wallet(alice, user_id="alice", wallet_address=ALICE_BASE, chain_id=1)
    second = core.add_user_wallet(alice, user_id="alice", wallet_address=OTHER, chain_id=1)
    core.set_primary_wallet(alice, user_id="alice", wallet_id=second.id)
    assert core.get_user_primary_wallet(alice, "alice", 1).id == second.id
    assert not next(w for w in core.get_user_wallets(alice, "alice") if w.id == first.id).is_primary


def test_set_primary_refuses_someone_elses_wallet(alice):
    core.create_user(alice, "mallory")
    wallet = core.add_user_wallet(alice, user_id="alice", wallet_address=ALICE_BASE, chain_id=1)
    with pytest.raises(NotFound, match="wallet_id"):
        core.set_primary_wallet(alice, user_id="mallory", wallet_id=wallet.id)


def test_the_database_forbids_two_primaries(alice):
    core.add_user_wallet(alice, user_id="alice", wallet_address=ALICE_BASE, chain_id=1)
    core.add_user_wallet(alice, user_id="alice", wallet_address=OTHER, chain_id=1)
    with pytest.raises(IntegrityError), alice.transaction() as conn:
        conn.execute(sa.text("UPDATE user_wallet_addresses SET is_primary = TRUE"))


def test_the_same_address_twice_on_a_chain_is_a_conflict(alice):
    core.create_user(alice, "bob")
    core.add_user_wallet(alice, user_id="alice", wallet_address=ALICE_BASE, chain_id=1)
    with pytest.raises(Conflict, match="already registered"):
        core.add_user_wallet(alice, user_id="bob", wallet_address=ALICE_BASE.lower(), chain_id=1)
    assert count_wallets(alice) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("wallet_address", "0x1234"),
        ("wallet_address", ALICE_BASE[:-1] + "D"),
        ("chain_id", "base"),
        ("wallet_type", "Has Spaces"),
        ("user_id", ""),
    ],
)
def test_bad_wallet_input_names_the_field_and_writes_nothing(alice, field, value):
    fields = {"user_id": "alice", "wallet_address": ALICE_BASE, "chain_id": 1, field: value}
    with pytest.raises(InvalidInput) as error:
        core.add_user_wallet(alice, **fields)
    assert error.value.field == field
    assert count_wallets(alice) == 0


def test_a_wallet_for_an_unknown_user_is_refused(core_db):
    with pytest.raises(NotFound, match="user_id: user 'ghost' does not exist"):
        core.add_user_wallet(core_db, user_id="ghost", wallet_address=ALICE_BASE, chain_id=1)


def test_update_wallet_balances_sets_only_what_is_given(alice):
    wallet = core.add_user_wallet(alice, user_id="alice", wallet_address=ALICE_BASE, chain_id=1)
    updated = core.update_wallet_balances(
        alice, wallet.id, usdc_balance=5_000_000, points_balance=1000
    )
    assert (updated.usdc_balance, updated.points_balance, updated.eth_balance) == (
        5_000_000,
        1000,
        0,
    )
    assert updated.balances_updated_at is not None
    updated = core.update_wallet_balances(alice, wallet.id, eth_balance=2**255)
    assert (updated.usdc_balance, updated.eth_balance) == (5_000_000, 2**255)
    with pytest.raises(InvalidInput, match="at least one"):
        core.update_wallet_balances(alice, wallet.id)
    with pytest.raises(NotFound):
        core.update_wallet_balances(alice, 999_999, eth_balance=1)


def test_concurrent_primary_switches_never_show_none_or_two(alice):
    """Writers flip the primary among three wallets; readers must always see exactly one."""
    wallets = [
        core.add_user_wallet(alice, user_id="alice", wallet_address=address(n + 1), chain_id=1)
        for n in range(3)
    ]
    errors: list[BaseException] = []
    seen_counts: set[int] = set()
    stop = threading.Event()

    def writer(offset: int) -> None:
        try:
            for round_number in range(30):
                target = wallets[(round_number + offset) % 3]
                core.set_primary_wallet(alice, user_id="alice", wallet_id=target.id)
        except BaseException as error:
            errors.append(error)

    def reader() -> None:
        try:
            while not stop.is_set():
                with alice.read() as conn:
                    seen_counts.add(
                        conn.execute(
                            sa.text(
                                "SELECT count(*) FROM user_wallet_addresses "
                                "WHERE user_id = 'alice' AND is_primary"
                            )
                        ).scalar_one()
                    )
        except BaseException as error:
            errors.append(error)

    writers = [threading.Thread(target=writer, args=(offset,)) for offset in range(3)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []
    assert seen_counts == {1}


def test_erasing_a_users_personal_data_wipes_the_username_and_releases_the_wallets(ledger_db):
    address = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"
    core.add_user_wallet(ledger_db, user_id="alice", chain_id=1, wallet_address=address)
    core.add_user_wallet(ledger_db, user_id="alice", chain_id=8453, wallet_address=address)
    assert core.erase_user_personal_data(ledger_db, "alice") == 2
    assert core.get_user(ledger_db, "alice").username is None
    assert core.get_user_wallets(ledger_db, "alice") == []
    core.add_user_wallet(ledger_db, user_id="bob", chain_id=1, wallet_address=address)  # free
    assert core.erase_user_personal_data(ledger_db, "alice") == 0
    with pytest.raises(NotFound):
        core.erase_user_personal_data(ledger_db, "nobody")
