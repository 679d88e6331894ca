"""Games fixtures: players with ed25519 keys, CRAP in their accounts, a funded house."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from chaindb import games

PLAYERS = ("alice", "bob", "carol", "dave")
START_CRAP = 1_000_000
HOUSE_CRAP = 10**12


def signing_key(name: str) -> SigningKey:
    """A deterministic key per player name (the seed is the name, padded)."""
    return SigningKey(name.encode().ljust(32, b"\0")[:32])


@pytest.fixture
def games_db(core_db):
    """Migrated, with players alice, bob, carol and dave (1,000,000 CRAP base units each) and a
    house holding 10**12."""
    for name in PLAYERS:
        games.create_user(core_db, name, name, bytes(signing_key(name).verify_key))
        games.deposit(core_db, user_id=name, amount=START_CRAP)
    games.fund_pool(core_db, pool="house", amount=HOUSE_CRAP)
    return core_db
