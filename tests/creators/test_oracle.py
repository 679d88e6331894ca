"""The oracle sync against a real EVM (eth-tester), in process and behind a real JSON-RPC server
that fails on purpose; retries, error classes, gas bumps, the breaker and reorgs. At the end
of each test the contract's stored metrics are compared with the database."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from eth_account import Account

from chaindb import chain, core, creators
from chaindb.creators.schema import creators as creators_table
from chaindb.creators.schema import oracle_sync_logs
from tests.chain.rpc_server import FlakyNode
from tests.creators.conftest import plays_of

CONFIRMATIONS = 3
FAST = chain.RetryPolicy(first_wait_s=0.01, max_wait_s=0.04, jitter_s=0.005)


def options(**more):
    return creators.SendOptions(policy=FAST, **more)


class Oracle:
    def __init__(self, db, node, sender=None):
        self.db, self.node = db, node
        self.sender = sender or node.funded_account(0)
        self.address = creators.deploy_oracle(db, node, self.sender)

    def sync(self, **more):
        return creators.sync_once(self.db, self.node, sender=self.sender, options=options(**more))

    def settle(self, **more):
        """Mine to finality and let a pass record it."""
        self.node.tester.mine_blocks(CONFIRMATIONS) if self.node.tester else None
        return self.sync(**more)

    def assert_contract_matches_database(self):
        for creator_id in self.creator_ids():
            creator = creators.get_creator(self.db, creator_id)
            held = creators.on_chain_metrics(self.node, self.address, creator_id)
            assert held["sequence"] == creator.synced_sequence
            if creator.synced_sequence:
                assert held["total_plays"] == creator.total_plays
                assert held["followers"] == creator.follower_count

    def creator_ids(self):
        with self.db.read() as conn:
            return conn.scalars(sa.select(creators_table.c.id)).all()


def funded(server):
    """The key of the server's first funded account (eth-tester's)."""
    return Account.from_key(server.tester.backend.account_keys[0].to_bytes())


def logs(db):
    with db.read() as conn:
        return (
            conn.execute(sa.select(oracle_sync_logs).order_by(oracle_sync_logs.c.id))
            .mappings()
            .all()
        )


@pytest.fixture
def oracle(platform):
    """Deployed, and both creators' first metrics (they published tracks) synced and final:
    each test starts from a quiet oracle."""
    oracle = Oracle(platform.db, chain.connect_chain(confirmations=CONFIRMATIONS))
    assert oracle.sync().sent == 2
    assert oracle.settle().confirmed == 2
    oracle.baseline = len(logs(platform.db))
    return oracle


def test_metrics_of_the_creators_that_changed_are_synced_and_held_by_the_contract(platform, oracle):
    db = platform.db
    creators.record_plays(db, plays_of(platform.tracks[0].id, 7))
    creators.follow(db, follower_id="alice", creator_id=platform.creator.id)
    report = oracle.sync()
    assert (report.sent, report.confirmed) == (1, 0)  # only the creator with news
    assert creators.get_creator(db, platform.creator.id).sync_tx_hash is not None
    assert oracle.sync().sent == 0  # in flight: not sent twice
    report = oracle.settle()
    assert (report.sent, report.confirmed) == (0, 1)
    creator = creators.get_creator(db, platform.creator.id)
    assert (creator.sync_sequence, creator.synced_sequence, creator.sync_tx_hash) == (2, 2, None)
    held = creators.on_chain_metrics(oracle.node, oracle.address, platform.creator.id)
    assert (held["total_plays"], held["followers"], held["monthly_plays"]) == (7, 1, 7)
    assert held["engagement_bps"] == creators.creator_engagement(creator).basis_points
    log = logs(db)[-1]
    assert (log["operation"], log["status"], log["attempt"], log["sequence"]) == (
        "UPDATE_METRICS",
        "SUCCESS",
        1,
        2,
    )
    assert log["gas_used"] > 21_000 and log["block_number"] > 0 and log["gas_price_wei"] > 0
    assert log["metrics"]["total_plays"] == 7

    creators.record_plays(db, plays_of(platform.tracks[1].id, 3, prefix="more"))
    assert oracle.sync().sent == 1
    oracle.settle()
    assert creators.get_creator(db, platform.creator.id).synced_sequence == 3
    oracle.assert_contract_matches_database()


def test_a_gas_error_is_resent_dearer_until_the_node_takes_it(platform, oracle):
    db, node = platform.db, oracle.node
    creators.record_plays(db, plays_of(platform.tracks[0].id, 2))
    base_fee = node.w3.eth.get_block("latest")["baseFeePerGas"]
    low = {"maxFeePerGas": base_fee * 7 // 10, "maxPriorityFeePerGas": 1}  # below the base fee
    report = oracle.sync(initial_fees=low)
    assert report.sent == 1
    attempts = logs(db)[oracle.baseline :]
    assert [(a["status"], a["error_class"]) for a in attempts] == [
        ("RETRY", "gas"),
        ("RETRY", "gas"),
        ("PENDING", None),
    ]
    fees = [a["gas_price_wei"] for a in attempts]
    assert fees[1] == -(-fees[0] * 120 // 100) and fees[2] == -(-fees[1] * 120 // 100)
    oracle.settle()
    assert logs(db)[-1]["status"] == "SUCCESS"
    oracle.assert_contract_matches_database()


def test_the_bump_is_twenty_percent_or_what_the_nodes_replacement_rule_demands():
    fees = {"maxFeePerGas": 1_000, "maxPriorityFeePerGas": 100}
    assert creators.bumped_fees(fees) == {"maxFeePerGas": 1_200, "maxPriorityFeePerGas": 120}
    # Lotus refuses less than priority x 1.25 + 1: +20 % would be refused
    assert creators.bumped_fees(fees, node="lotus") == {
        "maxFeePerGas": 1_251,
        "maxPriorityFeePerGas": 126,
    }
    assert creators.bumped_fees(fees, percent=50, node="lotus")["maxPriorityFeePerGas"] == 150


def test_a_revert_is_classified_and_never_retried(platform, oracle):
    """CREATE_COIN for a creator whose on-chain metrics are below the milestone: the contract
    refuses it (the coin is eligible here only by a hand-made database edit)."""
    db, creator_id = platform.db, platform.creator.id
    creators.record_plays(db, plays_of(platform.tracks[0].id, 2))
    oracle.sync()
    oracle.settle()
    with db.transaction() as conn:
        conn.execute(
            creators_table.update()
            .where(creators_table.c.id == creator_id)
            .values(coin_status="eligible")
        )
    report = oracle.sync()
    assert report.coins_requested == 0
    coin_logs = [log for log in logs(db) if log["operation"] == "CREATE_COIN"]
    assert [(log["status"], log["error_class"], log["attempt"]) for log in coin_logs] == [
        ("FAILED", "execution", 1)
    ]
    assert "milestone not reached" in coin_logs[0]["error_message"]
    creator = creators.get_creator(db, creator_id)
    assert (creator.coin_status, creator.sync_error_count) == ("eligible", 1)
    assert "execution" in creator.last_sync_error


def test_the_coin_is_created_on_chain_at_the_milestone(platform, oracle):
    db, creator_id = platform.db, platform.creator.id
    fans = [f"fan{n}" for n in range(creators.COIN_FOLLOWERS_MIN)]
    with db.transaction() as conn:
        conn.execute(core.metadata.tables["users"].insert(), [{"id": fan} for fan in fans])
    creators.follow_many(db, creator_id=creator_id, follower_ids=fans)
    for start in range(0, creators.COIN_PLAYS_MIN, 10_000):
        creators.record_plays(db, plays_of(platform.tracks[0].id, 10_000, prefix=f"b{start}"))
    assert creators.get_creator(db, creator_id).coin_status == "eligible"
    assert oracle.sync().coins_requested == 0  # the metrics go first: the contract checks them
    assert oracle.settle().coins_requested == 1
    assert oracle.settle().coins_created == 1
    creator = creators.get_creator(db, creator_id)
    assert (creator.coin_status, creator.coin_symbol) == ("created", "MIRA")
    coin = oracle.node.w3.eth.contract(
        address=creator.coin_address, abi=chain.contract_artifact("CreatorCoin")["abi"]
    )
    assert coin.functions.symbol().call() == "MIRA"
    plays = [m for m in creators.get_milestones(db, creator_id) if m.kind == "PLAYS"]
    assert plays[0].is_processed and plays[0].tx_hash == creator.coin_tx_hash
    oracle.assert_contract_matches_database()


def test_a_sync_undone_by_a_reorg_is_sent_again(platform, oracle):
    db, node = platform.db, oracle.node
    creators.record_plays(db, plays_of(platform.tracks[0].id, 4))
    before = node.w3.testing.snapshot()
    oracle.sync()
    assert oracle.settle().confirmed == 1  # final: SUCCESS
    node.w3.testing.revert(before)  # a longer branch without the update
    node.tester.mine_blocks(CONFIRMATIONS + 2, coinbase=node.w3.eth.accounts[9])
    held = creators.on_chain_metrics(node, oracle.address, platform.creator.id)
    assert (held["sequence"], held["total_plays"]) == (1, 0)  # the update is gone
    report = oracle.sync()
    assert (report.reorged, report.resent) == (1, 1)
    assert logs(db)[-1]["status"] == "PENDING"
    assert oracle.settle().confirmed == 1
    assert logs(db)[-1]["status"] == "SUCCESS"
    oracle.assert_contract_matches_database()
    assert creators.on_chain_metrics(node, oracle.address, platform.creator.id)["total_plays"] == 4


def test_the_sync_goes_through_a_flaky_json_rpc_server(platform):
    db = platform.db
    with FlakyNode() as server:
        node = chain.connect_chain(
            server.url, confirmations=2, resilience=chain.Resilience(FAST, failures_to_open=50)
        )
        oracle = Oracle(db, node, funded(server))
        for n, track in enumerate([*platform.tracks, platform.other_track]):
            creators.record_plays(db, plays_of(track.id, n + 1, prefix=f"f{n}"))
        server.fail_every = 7  # one request in seven answers 503
        assert oracle.sync().sent == 2
        server.fail_every = 0
        server.tester.mine_blocks(2)
        assert oracle.sync().confirmed == 2
        assert server.failures > 0
        oracle.assert_contract_matches_database()


def test_an_open_circuit_breaker_pauses_the_sync_and_it_resumes(platform):
    db = platform.db
    with FlakyNode() as server:
        resilience = chain.Resilience(FAST, failures_to_open=3, reset_timeout_s=0.2)
        node = chain.connect_chain(server.url, confirmations=2, resilience=resilience)
        oracle = Oracle(db, node, funded(server))
        creators.record_plays(db, plays_of(platform.tracks[0].id, 2))
        server.fail_always = True
        report = oracle.sync()
        assert report.paused and "circuit open" in report.paused
        assert report.sent == 0
        assert creators.get_creator(db, platform.creator.id).needs_sync  # still due
        server.fail_always = False
        time.sleep(0.3)  # the breaker lets a probe through
        assert oracle.sync().sent == 2  # both creators (they published tracks)
        server.tester.mine_blocks(2)
        assert oracle.sync().confirmed == 2
        oracle.assert_contract_matches_database()


def test_the_chain_bridges_retry_schedule_and_error_classes_come_through_its_face():
    """What the oracle reuses (chain/__init__'s lazy table): the same objects, not copies."""
    from chaindb.chain import resilience, sending

    assert chain.RetryPolicy().schedule_s() == [2, 4, 8, 16, 30]
    assert (chain.classify, chain.ErrorKind, chain.Resilience) == (
        resilience.classify,
        resilience.ErrorKind,
        resilience.Resilience,
    )
    assert (chain.next_nonce, chain.eip1559_fees) == (sending.next_nonce, sending.eip1559_fees)
    assert chain.classify(ValueError("max fee per gas less than block base fee")) is (
        chain.ErrorKind.GAS
    )


def test_a_taken_nonce_is_classified_and_the_nodes_nonce_used(platform, oracle):
    """A transaction logged by another sender process at a nonce the node never saw: the
    bridge's next nonce is too high for the node, which refuses it; the retry takes the
    node's."""
    db, node = platform.db, oracle.node
    ahead = node.mined_nonce(oracle.sender.address) + 5
    core.log_blockchain_transaction(
        db,
        chain_id=node.chain_id,
        transaction_hash="0x" + "ee" * 32,
        transaction_type="elsewhere",
        from_address=oracle.sender.address,
        nonce=ahead,
    )
    creators.record_plays(db, plays_of(platform.tracks[0].id, 2))
    assert oracle.sync().sent == 1
    attempts = logs(db)[oracle.baseline :]
    assert [(a["status"], a["error_class"]) for a in attempts] == [
        ("RETRY", "nonce"),
        ("PENDING", None),
    ]
    oracle.settle()
    oracle.assert_contract_matches_database()
