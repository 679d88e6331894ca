"""`chaindb creators …` as a user runs it: the oracle against a real JSON-RPC node (the chain
tests' server, in this process), the dashboard, the refusals."""

from __future__ import annotations

import json

from chaindb import creators
from tests.chain.rpc_server import FlakyNode
from tests.conftest import run_cli
from tests.creators.conftest import plays_of


def test_deploy_then_sync_once_through_a_node(platform, db_url):
    with FlakyNode() as server:
        key = "0x" + server.tester.backend.account_keys[0].to_bytes().hex()
        env = {"CHAINDB_URL": db_url, "CHAINDB_RPC_URL": server.url}
        env["CHAINDB_ORACLE_PRIVATE_KEY"] = key
        deployed = run_cli("creators", "deploy-oracle", env=env)
        assert deployed.returncode == 0, deployed.stderr
        assert "CreatorOracle deployed at 0x" in deployed.stdout
        creators.record_plays(platform.db, plays_of(platform.tracks[0].id, 3))
        first = run_cli("creators", "oracle-sync", "--once", "--json", env=env)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["sent"] == 2
        server.tester.mine_blocks(12)
        second = run_cli("creators", "oracle-sync", "--once", env=env)
        assert "0 sent, 2 confirmed" in second.stdout
    creator = creators.get_creator(platform.db, platform.creator.id)
    assert (creator.synced_sequence, creator.total_plays) == (1, 3)


def test_oracle_sync_refuses_without_a_key_or_a_node(core_db, db_url):
    no_key = run_cli("creators", "oracle-sync", "--once", env={"CHAINDB_URL": db_url})
    assert no_key.returncode == 1
    assert "CHAINDB_ORACLE_PRIVATE_KEY is not set" in no_key.stderr
    env = {"CHAINDB_URL": db_url, "CHAINDB_ORACLE_PRIVATE_KEY": "0x" + "11" * 32}
    no_node = run_cli("creators", "oracle-sync", "--once", env=env)
    assert no_node.returncode == 1 and "needs a node" in no_node.stderr


def test_dashboard(platform, db_url):
    creators.record_plays(platform.db, plays_of(platform.tracks[0].id, 4))
    shown = run_cli(
        "creators", "dashboard", str(platform.creator.id), "--json", env={"CHAINDB_URL": db_url}
    )
    assert shown.returncode == 0, shown.stderr
    board = json.loads(shown.stdout)
    assert board["creator"]["total_plays"] == 4 and board["plays_in_period"] == 4
    missing = run_cli("creators", "dashboard", "999", env={"CHAINDB_URL": db_url})
    assert missing.returncode == 1 and "creator 999 does not exist" in missing.stderr


def test_oracle_sync_stops_on_sigterm_after_its_pass(platform, db_url):
    import os
    import signal
    import subprocess
    import sys

    with FlakyNode() as server:
        key = "0x" + server.tester.backend.account_keys[0].to_bytes().hex()
        env = {**os.environ, "CHAINDB_URL": db_url, "CHAINDB_RPC_URL": server.url}
        env["CHAINDB_ORACLE_PRIVATE_KEY"] = key
        env["PYTHONFAULTHANDLER"] = "1"  # SIGABRT prints where a stuck command stands
        assert run_cli("creators", "deploy-oracle", env=env).returncode == 0
        running = subprocess.Popen(
            [sys.executable, "-m", "chaindb", "creators", "oracle-sync", "--interval", "600"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first_line = running.stdout.readline()  # the first pass is over
        assert first_line.startswith("oracle pass: 2 sent")
        running.send_signal(signal.SIGTERM)
        try:
            assert running.wait(timeout=120) == 0  # the 600 s wait ended at once
        except subprocess.TimeoutExpired:
            running.send_signal(signal.SIGABRT)
            raise AssertionError(f"oracle-sync did not stop: {running.communicate()[1]}") from None
