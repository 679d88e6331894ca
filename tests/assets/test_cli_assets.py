"""chaindb assets worker|trees|search|cleanup and chaindb roles create-service, run as a user
runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from chaindb import assets
from tests.assets.conftest import PAYER, enqueue
from tests.conftest import run_cli

ROOT = Path(__file__).parent.parent.parent
MARKER_WAIT_S = 60.0


def test_worker_once_mints_with_the_keypair_and_trees_show_the_fill(tree_db, db_url, tmp_path):
    for n in range(3):
        enqueue(tree_db, f"cli{n}")
    keypair = tmp_path / "payer.json"
    keypair.write_text(json.dumps(list(bytes(PAYER))))
    env = {"CHAINDB_URL": db_url, "CHAINDB_SOLANA_PAYER_KEYPAIR": str(keypair)}
    run = run_cli("assets", "worker", "--once", "--concurrency", "2", "--json", env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["completed"] == 3
    trees = run_cli("assets", "trees", "--json", env=env)
    (tree,) = json.loads(trees.stdout)
    assert (tree["next_leaf_index"], tree["leaves_left"]) == (3, 29)
    found = run_cli("assets", "search", "cli1", "--json", env=env)
    assert [a["metadata"]["name"] for a in json.loads(found.stdout)] == ["memory cli1"]
    dry = run_cli("assets", "cleanup", "--dry-run", "--json", env=env)
    assert json.loads(dry.stdout)["queue_jobs_deleted"] == 0


def test_worker_without_a_keypair_says_what_to_set(tree_db, db_url):
    run = run_cli("assets", "worker", "--once", env={"CHAINDB_URL": db_url})
    assert run.returncode == 1
    assert "CHAINDB_SOLANA_PAYER_KEYPAIR is not set" in run.stderr


def test_sigterm_lets_the_worker_finish_its_batch(tree_db, db_url, tmp_path):
    job = enqueue(tree_db, "finish me")
    marker = tmp_path / "holding"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaindb",
            "assets",
            "worker",
            "--mint",
            "tests.assets.slow_mint:mint",
            "--json",
        ],
        env={
            **os.environ,
            "CHAINDB_URL": db_url,
            "SLOW_MINT_MARKER": str(marker),
            "PYTHONPATH": str(ROOT),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + MARKER_WAIT_S
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    assert json.loads(out)["completed"] == 1
    assert assets.get_job(tree_db, job.id).status == "completed"


def test_roles_are_postgresqls(tmp_path):
    """SQLite: the command refuses in one line."""
    url = f"sqlite:///{tmp_path}/r.sqlite3"
    run_cli("migrate", env={"CHAINDB_URL": url})
    run = run_cli(
        "roles",
        "create-service",
        "svc",
        env={"CHAINDB_URL": url, "CHAINDB_SERVICE_PASSWORD": "a long enough password"},
    )
    assert run.returncode == 1 and "roles are PostgreSQL's" in run.stderr
    assert "a long enough password" not in run.stderr + run.stdout
