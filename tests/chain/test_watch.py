"""`chaindb watch` as a user runs it: a real process, a real node, stopped by a signal."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from eth_account import Account

from chaindb import core
from chaindb.chain.client import connect_chain
from chaindb.chain.sending import send_transaction
from chaindb.chain.watching import watch
from tests.chain.rpc_server import FlakyNode
from tests.conftest import run_cli

PASS_WAIT_S = 60
API_KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_watch_tracks_until_a_signal_then_finishes_its_pass(core_db, db_url, stop_with):
    with FlakyNode() as node:
        chain = connect_chain(node.url)
        payer = Account.from_key(node.tester.backend.account_keys[1].to_bytes())
        sent = send_transaction(
            core_db, chain, payer, {"to": payer.address, "value": 1}, transaction_type="payment"
        )
        watcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chaindb",
                "watch",
                "--rpc-url",
                node.url,
                "--interval",
                "0.1",
                "--confirmations",
                "1",
            ],
            env={**os.environ, "CHAINDB_URL": db_url, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = []
        deadline = time.monotonic() + PASS_WAIT_S
        while not any(line.startswith("pass 2") for line in lines) and time.monotonic() < deadline:
            lines.append(watcher.stdout.readline())
            if not lines[-1]:
                break  # the watcher ended early: its stderr says why
        watcher.send_signal(stop_with)
        out, err = watcher.communicate(timeout=PASS_WAIT_S)
    assert watcher.returncode == 0, err
    assert (
        f"chain: {chain.chain_id} (genesis {chain.genesis_hash}) via the node at {node.url}\n"
        in err
    )
    output = "".join(lines) + out
    assert "pass 1: head 1: 1 mined, 1 final" in output
    assert f"stopped by {signal.Signals(stop_with).name}" in output
    tracked = core.get_blockchain_transaction(core_db, sent.transaction_hash)
    assert (tracked.status, tracked.is_final) == ("success", True)


def test_a_signal_while_the_loop_holds_its_stop_event_still_ends_it_after_the_pass(core_db, chain):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are installed on the main thread only")
    stop = threading.Event()

    def signal_inside_the_events_lock(*_pass):
        # stop.wait() holds the event's lock for a moment on each call; a signal landing then
        # ran a handler that waited for that lock on the same thread: the watcher hung.
        with stop._cond:
            signal.raise_signal(signal.SIGTERM)

    summary = watch(
        core_db,
        chain,
        interval_s=0,
        passes_max=3,
        on_pass=signal_inside_the_events_lock,
        stop=stop,
    )
    assert (summary.passes, summary.stopped_by) == (1, "SIGTERM")


def test_watch_names_its_chain_shows_retries_on_stderr_and_prints_json_lines(core_db, db_url):
    with FlakyNode() as node:
        chain = connect_chain(node.url)
        payer = Account.from_key(node.tester.backend.account_keys[1].to_bytes())
        send_transaction(
            core_db, chain, payer, {"to": payer.address, "value": 1}, transaction_type="payment"
        )
        node.fail_next = 1  # the watcher's first request: retried after the first backoff
        watched = run_cli(
            "watch",
            *("--rpc-url", f"{node.url}/v3/{API_KEY}", "--passes", "2", "--interval", "0"),
            *("--confirmations", "1", "--json"),
            env={"CHAINDB_URL": db_url},
        )
    assert watched.returncode == 0, watched.stderr
    assert API_KEY not in watched.stderr + watched.stdout
    shown = f"the node at {node.url}/v3/***"
    assert f"{shown} failed (HTTP 503 Service Unavailable): retry 1 of 5 in " in watched.stderr
    assert f"chain: {chain.chain_id} (genesis {chain.genesis_hash}) via {shown}" in watched.stderr
    first, second, summary = (json.loads(line) for line in watched.stdout.splitlines())
    assert (first["kind"], first["pass"], first["tracked"]["finalized"]) == ("pass", 1, 1)
    assert (second["pass"], second["events"]) == (2, None)
    assert summary["kind"] == "summary"
    assert (summary["passes"], summary["stopped_by"], summary["tracked"]["mined"]) == (
        2,
        "pass limit",
        1,
    )
    assert (summary["chain_id"], summary["genesis_hash"], summary["node"]) == (
        chain.chain_id,
        chain.genesis_hash,
        shown,
    )


class StopOnRetry(logging.Handler):
    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    def emit(self, record: logging.LogRecord) -> None:
        self.stop.set()


def test_a_stop_while_the_node_is_down_ends_the_retries_and_the_watch(core_db):
    stop = threading.Event()
    retries = logging.getLogger("chaindb.chain")
    handler = StopOnRetry(stop)  # asks to stop as the first retry is announced
    with FlakyNode() as node:
        chain = connect_chain(node.url)  # the default backoff: 2, 4, 8, 16, 30 s
        chain.describe()  # chain id and genesis known while the node is up
        node.fail_always = True
        retries.addHandler(handler)
        try:
            summary = watch(core_db, chain, passes_max=3, stop=stop)
        finally:
            retries.removeHandler(handler)
        failures = node.failures
    assert (summary.passes, summary.stopped_by) == (0, "stop event")
    assert summary.cut_short == (
        f"the node at {node.url} did not answer: HTTP 503 Service Unavailable (1 attempt, then "
        "the retries were stopped)"
    )
    assert failures == 1, "no retry after the stop"
