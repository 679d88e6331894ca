"""The chain commands' edges as a user meets them: one-line refusals, install hints, help.

None of these reach a database (refused before one is opened): they run once, not per backend.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import run_cli

BAD_CHECKSUM = "0xF2E246BB76DF876Cef8b38ae84130F4F55De395B"  # one letter's case flipped


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("--interval", "-1", "-1.0 is invalid: must be a number of seconds >= 0"),
        ("--interval", "nan", "nan is invalid: must be a number of seconds >= 0"),
        ("--passes", "-3", "-3 is invalid: must be a whole number >= 1"),
        ("--passes", "0", "0 is invalid: must be a whole number >= 1"),
        ("--confirmations", "-1", "-1 is invalid: must be a whole number >= 1"),
        ("--dropped-after", "-5", "-5.0 is invalid: must be a number of seconds >= 0"),
        (
            "--escrow",
            BAD_CHECKSUM,
            "'0xF2E246BB76DF876Cef8b38ae84130F4F55... is invalid: mixed-case EVM address fails "
            "its EIP-55 checksum",
        ),
    ],
)
def test_watch_refuses_a_bad_option_in_one_line(tmp_path, option, value, rule):
    url = f"sqlite:///{tmp_path / 'never.sqlite3'}"
    bounded = [] if option == "--passes" else ["--passes", "1"]  # were it accepted: one pass
    refused = run_cli("watch", option, value, *bounded, env={"CHAINDB_URL": url})
    assert refused.returncode == 1
    assert refused.stderr == f"error: {option}: {rule}\n"
    assert not (tmp_path / "never.sqlite3").exists()


@pytest.mark.parametrize(
    ("rpc_url", "rule"),
    [
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://localhost:abc", "Port could not be cast to integer value as 'abc'"),
        ("ftp://node.example", "must start with http:// or https:// (JSON-RPC over HTTP)"),
        ("node.example:8545", "must start with http:// or https:// (JSON-RPC over HTTP)"),
        ("http://", "has no host"),
    ],
)
def test_a_malformed_rpc_url_is_refused_at_once_not_retried(tmp_path, rpc_url, rule):
    """No retry mends a URL that does not parse: one line, before any request."""
    url = f"sqlite:///{tmp_path / 'never.sqlite3'}"
    refused = run_cli("watch", "--rpc-url", rpc_url, "--passes", "1", env={"CHAINDB_URL": url})
    assert refused.returncode == 1
    assert refused.stderr == f"error: RPC URL {rpc_url!r} is invalid: {rule}\n"


@pytest.mark.parametrize("command", ["watch", "demo"])
def test_a_missing_chain_extra_gets_the_install_hint(tmp_path, command):
    """As if chaindb were installed without [chain]: web3 cannot be imported."""
    script = (
        "import sys; sys.modules['web3'] = None\n"
        f"sys.argv = ['chaindb', {command!r}]\n"
        "from chaindb.cli import main; main()\n"
    )
    url = f"sqlite:///{tmp_path / 'chaindb.sqlite3'}"
    ran = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"CHAINDB_URL": url, "PATH": ""},
        timeout=300,
    )
    assert ran.returncode == 1
    assert ran.stderr.splitlines()[-1] == (
        "error: the chain bridge needs web3.py, eth-account and eth-tester: "
        "pip install 'chaindb[chain]'"
    )
    assert "Traceback" not in ran.stderr


def test_help_speaks_of_features_not_seeds():
    for args in (["--help"], ["challenges", "--help"], ["watch", "--help"]):
        shown = run_cli(*args)
        assert shown.returncode == 0
        assert "seed" not in shown.stdout.lower(), args
