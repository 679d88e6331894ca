"""The craps rules BitCraps plays (src/protocol/game_logic.rs), as pure functions.

A game is one round: the come-out roll, then, when it sets a point (4, 5, 6, 8, 9, 10), rolls
until the point (made) or a 7 (seven-out). A natural (7, 11) or craps (2, 3, 12) on the come-out
decides it at once.

Payouts are profit : stake, as exact fractions; a winning bet gets its stake back and
floor(stake x profit ratio) (rounded down, in base units: the fraction of a unit below that is
never paid, as a casino pays odds in whole chips). BitCraps' integer-percent odds (pass odds
200/150/120, don't odds 50/67/83) are the fractions 2/1, 3/2, 6/5 and 1/2, 2/3, 5/6 here.
Not ported (notes/games-creators.md): Field, Any 7 and Any Craps paid twice on the come-out.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Literal, NamedTuple, get_args

BetType = Literal[
    "pass",
    "dont_pass",
    "pass_odds",
    "dont_pass_odds",
    "field",
    "any_seven",
    "any_craps",
    "eleven",
    "two",
    "twelve",
    "hard4",
    "hard6",
    "hard8",
    "hard10",
]
BET_TYPES: tuple[str, ...] = get_args(BetType)
Outcome = Literal["won", "lost", "push"]
Phase = Literal["come_out", "point", "resolved"]
POINT_NUMBERS = (4, 5, 6, 8, 9, 10)
NATURALS = (7, 11)
CRAPS = (2, 3, 12)
LINE_BETS = ("pass", "dont_pass")  # on the come-out only
ODDS_BETS = ("pass_odds", "dont_pass_odds")  # once a point is set
ONE_ROLL_BETS = {
    # bet type: {total: profit ratio}; any other total loses
    "field": {2: Fraction(2), 3: Fraction(1), 4: Fraction(1), 9: Fraction(1), 10: Fraction(1),
              11: Fraction(1), 12: Fraction(2)},
    "any_seven": {7: Fraction(4)},
    "any_craps": {2: Fraction(7), 3: Fraction(7), 12: Fraction(7)},
    "eleven": {11: Fraction(15)},
    "two": {2: Fraction(30)},
    "twelve": {12: Fraction(30)},
}  # fmt: skip
HARD_WAYS = {"hard4": (4, Fraction(7)), "hard6": (6, Fraction(9)), "hard8": (8, Fraction(9)),
             "hard10": (10, Fraction(7))}  # fmt: skip
PASS_ODDS = {4: Fraction(2), 10: Fraction(2), 5: Fraction(3, 2), 9: Fraction(3, 2),
             6: Fraction(6, 5), 8: Fraction(6, 5)}  # fmt: skip
DONT_PASS_ODDS = {point: 1 / ratio for point, ratio in PASS_ODDS.items()}


class Roll(NamedTuple):
    die1: int
    die2: int

    @property
    def total(self) -> int:
        return self.die1 + self.die2

    @property
    def hard(self) -> bool:
        return self.die1 == self.die2


class Decision(NamedTuple):
    outcome: Outcome
    profit: int  # base units paid on top of the returned stake (0 unless won)


class LineState(NamedTuple):
    phase: Phase
    point: int | None


def after_roll(state: LineState, roll: Roll) -> LineState:
    """Where the line stands after `roll`."""
    total = roll.total
    if state.phase == "come_out":
        if total in NATURALS or total in CRAPS:
            return LineState("resolved", None)
        return LineState("point", total)
    if state.phase == "point" and total in (7, state.point):
        return LineState("resolved", state.point)
    return state


def bet_allowed(bet_type: str, phase: Phase) -> str | None:
    """Why a bet of this type cannot be placed now (None: it can)."""
    if phase == "resolved":
        return "the game is resolved"
    if bet_type in LINE_BETS and phase != "come_out":
        return "line bets are placed before the come-out roll"
    if bet_type in ODDS_BETS and phase != "point":
        return "odds bets need a point"
    return None


def decide(bet_type: str, stake: int, rolls: Sequence[Roll], placed_at_roll: int) -> Decision:
    """The bet's result over a decided game's `rolls` (the bet saw rolls[placed_at_roll:])."""
    line = _line(rolls)
    seen = rolls[placed_at_roll:]
    if bet_type in ONE_ROLL_BETS:
        return _paid(stake, ONE_ROLL_BETS[bet_type].get(seen[0].total))
    if bet_type in HARD_WAYS:
        return _hard_way(stake, *HARD_WAYS[bet_type], seen)
    come_out, point, made = line
    if bet_type == "pass":
        return _paid(stake, Fraction(1) if (come_out in NATURALS or made) else None)
    if bet_type == "dont_pass":
        if come_out == 12:
            return Decision("push", 0)  # bar 12
        wins = come_out in (2, 3) or (point is not None and not made)
        return _paid(stake, Fraction(1) if wins else None)
    if bet_type == "pass_odds":
        return _paid(stake, PASS_ODDS[point] if made else None)  # type: ignore[index]
    if bet_type == "dont_pass_odds":
        return _paid(stake, None if made else DONT_PASS_ODDS[point])  # type: ignore[index]
    raise ValueError(f"unknown bet type {bet_type!r}")


def _line(rolls: Sequence[Roll]) -> tuple[int, int | None, bool]:
    """(come-out total, point or None, point made)."""
    come_out = rolls[0].total
    if come_out not in POINT_NUMBERS:
        return come_out, None, False
    return come_out, come_out, rolls[-1].total == come_out and len(rolls) > 1


def _hard_way(stake: int, number: int, ratio: Fraction, seen: Sequence[Roll]) -> Decision:
    for roll in seen:
        if roll.total == number:
            return _paid(stake, ratio if roll.hard else None)
        if roll.total == 7:
            return Decision("lost", 0)
    return Decision("push", 0)  # still up when the game ended: the stake comes back


def _paid(stake: int, ratio: Fraction | None) -> Decision:
    if ratio is None:
        return Decision("lost", 0)
    return Decision("won", stake * ratio.numerator // ratio.denominator)
