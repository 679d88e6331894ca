"""The games module's part of `make demo`: three players agree on the dice by signed votes,
play one game of craps on CRAP held in the ledger, and the bets are settled exactly once."""

from __future__ import annotations

import hashlib

from nacl.signing import SigningKey
from rich.console import Console
from rich.table import Table

from chaindb import ledger
from chaindb.database import Database
from chaindb.games.bets import place_bet
from chaindb.games.consensus import cast_vote, open_round, vote_message
from chaindb.games.crap_token import deposit, fund_pool, get_token_balance
from chaindb.games.games import create_game, resolve_game, roll_dice
from chaindb.games.players import create_user
from chaindb.games.stats import leaderboard

CRAP_UNIT = 10**6  # 6 decimals
PLAYERS = ("ana", "ben", "cy")
BETS = (("ana", "pass", 100), ("ben", "dont_pass", 60), ("cy", "field", 25))
ROLLS = ((3, 1), (2, 2))  # a point of 4, then the point made


def story(db: Database, console: Console) -> None:
    say = console.print
    keys = {name: SigningKey(hashlib.sha256(f"demo {name}".encode()).digest()) for name in PLAYERS}
    for name, key in keys.items():
        create_user(db, name, name, bytes(key.verify_key))
        deposit(db, user_id=name, amount=1_000 * CRAP_UNIT, idempotency_key=f"demo:{name}")
    fund_pool(db, pool="house", amount=100_000 * CRAP_UNIT, idempotency_key="demo:house")
    game = create_game(db, game_id="demo-craps")
    say("\n[bold]BitCraps[/bold]: ana, ben and cy hold 1,000 CRAP each; the house 100,000")
    for name, bet_type, crap in BETS:
        place_bet(db, game_id=game.id, player_id=name, bet_type=bet_type, amount=crap * CRAP_UNIT)
        say(f"  {name} bets {crap} CRAP on {bet_type} (held: {_crap(_locked(db, name))} locked)")
    for die1, die2 in ROLLS:
        proposal = hashlib.sha256(f"{game.id}:{die1}:{die2}".encode()).digest()
        round_ = open_round(
            db,
            proposer_id="ana",
            proposal_hash=proposal,
            participants=list(PLAYERS),
            game_id=game.id,
        )
        finalized = None
        for name in PLAYERS:
            signature = keys[name].sign(vote_message(round_.round_number, proposal)).signature
            vote = cast_vote(
                db, round_number=round_.round_number, voter_id=name, signature=signature
            )
            finalized = finalized or (name if vote.finalized_now else None)
        rolled = roll_dice(db, game_id=game.id, die1=die1, die2=die2)
        say(
            f"  round {round_.round_number}: dice {die1}+{die2} signed by 3 players, final at "
            f"{finalized}'s vote (quorum {round_.quorum}) → {rolled.game.phase}"
            + (f", point {rolled.game.point}" if rolled.game.point else "")
        )
    settlement = resolve_game(db, game.id)  # settled by the last roll: asking again pays nothing
    _settlement_table(db, console)
    say(
        f"the house paid {_crap(settlement.total_paid_out)} CRAP and kept "
        f"{_crap(settlement.house_take)}; resolving again paid nothing more"
    )
    top = leaderboard(db, by="winnings", limit=3)
    say(
        "leaderboard by winnings: "
        + ", ".join(f"{row.rank}. {row.user_id} {_crap(row.value)}" for row in top)
    )
    say(f"games ledger check: {'ok' if ledger.check_ledger(db).ok else 'PROBLEMS'}")


def _settlement_table(db: Database, console: Console) -> None:
    table = Table(title="settled once, in the deciding roll's transaction", title_justify="left")
    for column in ("player", "outcome", "profit (CRAP)", "balance (CRAP)", "locked"):
        table.add_column(column)
    for name, bet_type, crap in BETS:
        balance = get_token_balance(db, name)
        profit = balance.balance - 1_000 * CRAP_UNIT
        outcome = "won" if profit > 0 else "lost" if profit < 0 else "push"
        table.add_row(f"{name} ({bet_type} {crap})", outcome, _crap(max(profit, 0)),
                      _crap(balance.balance), _crap(balance.locked_balance))  # fmt: skip
    console.print(table)


def _locked(db: Database, name: str) -> int:
    return get_token_balance(db, name).locked_balance


def _crap(base_units: int) -> str:
    whole, fraction = divmod(base_units, CRAP_UNIT)
    return f"{whole:,}" + (f".{fraction:06d}".rstrip("0") if fraction else "")
