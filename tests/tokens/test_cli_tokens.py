"""chaindb tokens: the library's functions from the shell (one test through the real command)."""

from __future__ import annotations

import json

from chaindb import core
from chaindb.networks import CKB_TESTNET
from tests.conftest import run_cli
from tests.tokens.addresses import ckb_user

TX = "0x" + "d1" * 32


def test_a_token_is_created_confirmed_and_listed_from_the_shell(core_db, db_url):
    user = core.ensure_wallet_user(core_db, wallet_address=ckb_user(9), chain_id=CKB_TESTNET)
    created = run_cli(
        "tokens", "create", "--url", db_url, "--name", "Shell", "--symbol", "SH",
        "--supply", str(2**255), "--creator", user.user_id, "--network", "testnet",
        "--tx-hash", TX, "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    assert (token["supply"], token["status"]) == (2**255, "pending")
    outcome = run_cli(
        "tokens", "outcome", TX, "confirmed", "--network", "ckb:testnet", "--block", "5",
        "--url", db_url, "--json",
    )  # fmt: skip
    assert json.loads(outcome.stdout)["transactions"][0]["status"] == "confirmed", outcome.stderr
    listed = run_cli("tokens", "list", "--url", db_url, "--csv")
    assert listed.stdout.splitlines()[1].startswith(f"{token['id']},SH,Shell,{2**255},confirmed")
    bad = run_cli(
        "tokens", "create", "--url", db_url, "--name", "x", "--symbol", "SH", "--supply", "1.5",
        "--creator", user.user_id, "--network", "testnet",
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("error: --supply: '1.5' is invalid")
