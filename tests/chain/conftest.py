"""A real chain for the tests: eth-tester's in-process EVM, the escrow deployed on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

import chaindb
from chaindb import challenges, core, ledger
from chaindb.chain.client import Chain, connect_chain
from chaindb.chain.escrow import deploy_escrow, escrow_contract, stake_on_chain
from chaindb.chain.events import ingest_escrow_events
from chaindb.chain.tracker import track
from chaindb.ledger.accounts import Asset

CONFIRMATIONS = 3
ADMIN_KEY = keccak(text="chaindb test admin")
PLAYERS = ("alice", "bob", "carol")


@dataclass
class Bridge:
    db: chaindb.Database
    chain: Chain
    admin: LocalAccount
    deployer: LocalAccount
    escrow: str
    eth: Asset
    players: dict[str, LocalAccount]

    def mine(self, blocks: int = 1) -> None:
        self.chain.tester.mine_blocks(blocks)

    def settle(self) -> None:
        """Mine to finality and let the tracker and the ingestion see it."""
        self.mine(CONFIRMATIONS)
        track(self.db, self.chain)
        ingest_escrow_events(self.db, self.chain)

    def payout_on_chain(self, user: str, challenge_id: int) -> int:
        contract = escrow_contract(self.chain, self.escrow)
        return contract.functions.payoutOf(challenge_id, self.players[user].address).call()

    def balance(self, user: str) -> ledger.Balance:
        return ledger.get_balance(self.db, f"user:{user}", self.eth.code)


@pytest.fixture
def chain() -> Chain:
    return connect_chain(confirmations=CONFIRMATIONS)


@pytest.fixture
def bridge(core_db: chaindb.Database, chain: Chain) -> Bridge:
    admin = Account.from_key(ADMIN_KEY)
    deployer = chain.funded_account(0)
    deployment = deploy_escrow(core_db, chain, deployer, admin_address=admin.address)
    eth = ledger.ensure_token_asset(
        core_db, chain_id=chain.chain_id, token_address=None, symbol="ETH", decimals=18
    )
    players = {name: chain.funded_account(n + 1) for n, name in enumerate(PLAYERS)}
    for name, account in players.items():
        core.create_user(core_db, name, name)
        core.add_user_wallet(
            core_db, user_id=name, wallet_address=account.address, chain_id=chain.chain_id
        )
    bridge = Bridge(core_db, chain, admin, deployer, deployment.contract_address, eth, players)
    bridge.mine(CONFIRMATIONS)
    track(core_db, chain)  # the deployment is final: each test starts from a quiet chain
    return bridge


def open_challenge(bridge: Bridge, stakes: dict[str, tuple[str, int]], **fields: Any):
    """A challenge active on chain, its stakes made on chain and ingested once final."""
    challenge = challenges.create_challenge(
        bridge.db,
        title="ETH > 4k",
        challenger="alice",
        challenged="bob",
        payment_asset=bridge.eth.code,
        points_multiplier="1.50",
        **fields,
    )
    challenges.activate_challenge(
        bridge.db,
        challenge.id,
        blockchain_contract_address=bridge.escrow,
        blockchain_chain_id=bridge.chain.numeric_id,
    )
    for user, (side, amount) in stakes.items():
        stake_on_chain(
            bridge.db,
            bridge.chain,
            bridge.players[user],
            escrow_address=bridge.escrow,
            challenge_id=challenge.id,
            side=side,
            amount=amount,
            user_id=user,
        )
    bridge.settle()
    return challenge
