"""Retries, error classes, gas bumps and the circuit breaker, against a node that fails for real."""

from __future__ import annotations

import logging
import re
import socket
import time

import pytest
import requests
from eth_account import Account
from tenacity import RetryCallState
from web3.exceptions import ContractLogicError, TransactionNotFound

from chaindb import challenges, core, ledger
from chaindb.chain.client import connect_chain
from chaindb.chain.escrow import deploy_escrow, escrow_contract, stake_on_chain
from chaindb.chain.resilience import (
    ChainUnavailable,
    ErrorKind,
    Resilience,
    RetryPolicy,
    bump_gas,
    classify,
)
from chaindb.chain.settlement import resolve_challenge_on_chain
from chaindb.chain.tracker import track
from tests.chain.rpc_server import FlakyNode

FAST = RetryPolicy(first_wait_s=0.01, max_wait_s=0.04, jitter_s=0.005)
API_KEY = "0123456789abcdef0123456789abcdef"  # as in https://mainnet.infura.io/v3/KEY


@pytest.fixture
def node():
    with FlakyNode() as flaky:
        yield flaky


def over_http(node, **resilience):
    return connect_chain(node.url, confirmations=2, resilience=Resilience(FAST, **resilience))


def test_the_backoff_is_2_4_8_16_30_seconds_with_jitter():
    policy = RetryPolicy()
    assert policy.schedule_s() == [2, 4, 8, 16, 30]
    wait = policy.wait()
    for attempt, base in enumerate(policy.schedule_s(), start=1):
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        assert base <= wait(state) <= base + policy.jitter_s


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (requests.ConnectionError("refused"), ErrorKind.NETWORK),
        (requests.Timeout("slow"), ErrorKind.NETWORK),
        (ValueError("nonce too low"), ErrorKind.NONCE),
        (ValueError("replacement transaction underpriced"), ErrorKind.NONCE),
        (ValueError("max fee per gas less than block base fee"), ErrorKind.GAS),
        (ValueError("insufficient funds for gas * price + value"), ErrorKind.GAS),
        (ContractLogicError("execution reverted: nothing to claim"), ErrorKind.EXECUTION),
        (TransactionNotFound("no such transaction"), ErrorKind.NOT_FOUND),
    ],
)
def test_errors_are_classified(error, kind):
    assert classify(error) == kind


def test_a_replacement_bids_20_percent_more():
    assert bump_gas({"maxFeePerGas": 100, "maxPriorityFeePerGas": 10, "nonce": 3}) == {
        "maxFeePerGas": 120,
        "maxPriorityFeePerGas": 12,
        "nonce": 3,
    }
    assert bump_gas({"gasPrice": 101})["gasPrice"] == 122  # rounded up, never under 20 %


def test_network_errors_are_retried_until_the_node_answers(node):
    chain = over_http(node)
    node.fail_next = 3
    assert chain.head() == 0
    assert (node.failures, node.requests) == (3, 4)


def test_each_retry_is_logged_with_the_node_masked_the_cause_and_the_next_delay(node, caplog):
    chain = connect_chain(f"{node.url}/v3/{API_KEY}", resilience=Resilience(FAST))
    node.fail_next = 2
    with caplog.at_level(logging.WARNING, logger="chaindb.chain"):
        assert chain.head() == 0
    lines = [record.getMessage() for record in caplog.records if record.name == "chaindb.chain"]
    assert len(lines) == 2
    for attempt, line in enumerate(lines, start=1):
        expected = (
            rf"the node at {re.escape(node.url)}/v3/\*\*\* failed \(HTTP 503 Service "
            rf"Unavailable\): retry {attempt} of 5 in [0-9.]+ s"
        )
        assert re.fullmatch(expected, line), line


def test_a_node_that_never_answers_is_named_with_the_cause(node):
    host = node.url.removeprefix("http://")
    url = f"http://chaindb:hunter2@{host}/v3/{API_KEY}?apikey=secret42"
    chain = connect_chain(url, resilience=Resilience(FAST, failures_to_open=100))
    node.fail_always = True
    with pytest.raises(ChainUnavailable) as failed:
        chain.head()
    assert str(failed.value) == (
        f"the node at http://chaindb:***@{host}/v3/***?apikey=*** did not answer: "
        "HTTP 503 Service Unavailable (6 attempts)"
    )
    for secret in ("hunter2", API_KEY, "secret42"):
        assert secret not in str(failed.value)


def test_a_node_nobody_listens_on_is_named_with_the_cause():
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chain = connect_chain(f"http://127.0.0.1:{port}", resilience=Resilience(FAST))
    with pytest.raises(ChainUnavailable) as failed:
        chain.head()
    assert str(failed.value) == (  # the breaker opens on the fifth failure, before a sixth try
        f"the node at http://127.0.0.1:{port} failed 5 times in a row (last: Connection "
        "refused): circuit open, next probe in up to 30 s"
    )


def test_execution_errors_are_not_retried(node, core_db):
    chain = over_http(node)
    deployer = Account.from_key(node.tester.backend.account_keys[0].to_bytes())
    deployment = deploy_escrow(core_db, chain, deployer, admin_address=deployer.address)
    escrow = escrow_contract(chain, deployment.contract_address)
    node.methods.clear()
    with pytest.raises(ContractLogicError, match="nothing to claim"):
        chain.call(lambda: escrow.functions.claim(1).call({"from": deployer.address}))
    assert node.methods.count("eth_call") == 1, "a revert is the node working: no retry"


def test_the_breaker_opens_fails_fast_and_closes_after_a_probe(node):
    chain = over_http(node, failures_to_open=3, reset_timeout_s=0.3)
    node.fail_always = True
    with pytest.raises(ChainUnavailable) as opened:
        for _ in range(3):
            chain.head()
    assert str(opened.value) == (
        f"the node at {node.url} failed 3 times in a row (last: HTTP 503 Service Unavailable): "
        "circuit open, next probe in up to 0.3 s"
    )
    assert chain.resilience.state == "open"
    seen = node.requests
    with pytest.raises(ChainUnavailable):
        chain.head()
    assert node.requests == seen, "an open breaker does not bother the node"
    node.fail_always = False
    time.sleep(0.35)
    assert chain.head() == 0  # the probe succeeds ...
    assert chain.resilience.state == "closed"  # ... and closes the breaker


def test_a_challenge_settles_through_a_node_that_fails_one_request_in_four(node, core_db):
    node.fail_every = 4
    chain = over_http(node)
    keys = [Account.from_key(k.to_bytes()) for k in node.tester.backend.account_keys[:3]]
    admin = Account.create()
    deployment = deploy_escrow(core_db, chain, keys[0], admin_address=admin.address)
    eth = ledger.ensure_token_asset(
        core_db, chain_id=chain.chain_id, token_address=None, symbol="ETH", decimals=18
    )
    for user in ("alice", "bob"):
        core.create_user(core_db, user)
    challenge = challenges.create_challenge(
        core_db, title="t", challenger="alice", challenged="bob", payment_asset=eth.code
    )
    challenges.activate_challenge(core_db, challenge.id)
    for user, key, side in (("alice", keys[1], "YES"), ("bob", keys[2], "NO")):
        stake_on_chain(
            core_db,
            chain,
            key,
            escrow_address=deployment.contract_address,
            challenge_id=challenge.id,
            side=side,
            amount=10**18,
            user_id=user,
        )
        challenges.create_escrow_record(
            core_db, challenge_id=challenge.id, user_id=user, side=side, amount_escrowed=10**18
        )
    resolve_challenge_on_chain(
        core_db, chain, challenge_id=challenge.id, winning_side="YES", admin=admin, sender=keys[0]
    )
    node.tester.mine_blocks(2)
    track(core_db, chain)
    track(core_db, chain)
    assert node.failures > 0
    assert ledger.get_balance(core_db, "user:alice", eth.code).available == 2 * 10**18
    assert ledger.get_user_points_balance(core_db, "alice") == 100
    assert ledger.check_ledger(core_db).ok


def test_a_short_password_is_masked_as_a_whole_word_only():
    """Replacing 'ab' everywhere would garble the message and spell the password out."""
    from chaindb.chain.resilience import rpc_url_masker

    mask = rpc_url_masker("http://svc:ab@node.example:8545/")
    assert mask("about abc; password ab refused") == "about abc; password *** refused"
    assert mask("GET http://svc:ab@node.example:8545/ failed") == (
        "GET http://svc:***@node.example:8545/ failed"
    )
