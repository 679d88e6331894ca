"""The games part of `make demo`, on both backends: a game agreed by signed votes, played and
settled once."""

from __future__ import annotations

import io

from rich.console import Console

from chaindb import games, ledger


def test_the_story_plays_a_game_and_settles_it_once(core_db):
    out = io.StringIO()
    games.story(core_db, Console(file=out, width=140))
    text = out.getvalue()
    assert "dice 2+2 signed by 3 players, final at cy's vote (quorum 3) → resolved" in text
    assert "the house paid 125 CRAP and kept 60" in text
    assert "leaderboard by winnings: 1. ana 100, 2. cy 25, 3. ben 0" in text
    assert games.get_token_balance(core_db, "ana").balance == 1_100 * 10**6
    assert ledger.check_ledger(core_db).ok and games.verify(core_db) == []
