"""`chaindb games …`, run as a user runs it: a real process on each backend."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.games.conftest import signing_key


def cli(db_url, *args):
    result = run_cli(*args, env={"CHAINDB_URL": db_url})
    return result


def ok(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.lstrip().startswith(("{", "[")) else result


def test_a_game_played_from_the_shell(core_db, db_url):
    key = bytes(signing_key("zoe").verify_key).hex()
    ok(cli(db_url, "games", "register", "zoe", "--username", "Zoe", "--public-key", key))
    ok(cli(db_url, "games", "deposit", "zoe", "--amount", str(2**63 + 7)))
    ok(cli(db_url, "games", "fund", "--pool", "house", "--amount", str(2**64)))
    ok(cli(db_url, "games", "new-game", "--id", "t1"))
    bet = ok(cli(db_url, "games", "bet", "t1", "zoe", "pass", "--amount", str(2**63), "--json"))
    assert bet["amount"] == 2**63 and len(bytes.fromhex(bet["id"][2:])) == 16
    held = ok(cli(db_url, "games", "balance", "zoe", "--json"))
    assert (held["balance"], held["locked_balance"]) == (7, 2**63)
    rolled = ok(cli(db_url, "games", "roll", "t1", "6", "5", "--json"))
    assert rolled["game"]["phase"] == "resolved" and rolled["settlement"]["total_paid_out"] == 2**63
    again = ok(cli(db_url, "games", "resolve", "t1", "--json"))
    assert again["total_paid_out"] == 2**63
    assert ok(cli(db_url, "games", "balance", "zoe", "--json"))["balance"] == 2**64 + 7
    board = ok(cli(db_url, "games", "leaderboard", "--json"))
    assert board == [{"rank": 1, "user_id": "zoe", "username": "Zoe", "winnings": 2**63}]


def test_a_bad_bet_is_one_line_naming_the_field(core_db, db_url):
    ok(cli(db_url, "games", "new-game", "--id", "t1"))
    refused = cli(db_url, "games", "bet", "t1", "nobody", "pass", "--amount", "1.5")
    assert refused.returncode != 0
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and "--amount" in refused.stderr and "Traceback" not in refused.stderr
    forged = cli(db_url, "games", "vote", "1", "zoe", "00" * 64)
    assert (
        forged.returncode == 1 and "round_number: consensus round 1 does not exist" in forged.stderr
    )
