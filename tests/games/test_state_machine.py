"""Random bets, rolls, resolutions, stakes, claims and unstakes against a model. After every
step: CRAP is conserved, no balance is negative, token_balances equals the ledger (and the
model), and every bet is settled once. Examples share a database, each with players of its own.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from chaindb import Conflict, games, ledger
from chaindb.games import CRAP, HOUSE, REWARDS, STAKING

_examples = itertools.count(1)
POOL = 2**70
amounts = st.one_of(
    st.integers(min_value=1, max_value=5_000),
    st.integers(min_value=2**63 - 2, max_value=2**63 + 2),  # across the 64-bit boundary
)
dice = st.tuples(st.integers(1, 6), st.integers(1, 6))
BET_TYPES = ("pass", "dont_pass", "pass_odds", "dont_pass_odds", "field", "any_seven",
             "hard8", "eleven")  # fmt: skip


class GamesMachine(RuleBasedStateMachine):
    db = None  # set by the test
    games_ = Bundle("games")
    positions = Bundle("positions")

    def __init__(self) -> None:
        super().__init__()
        self.example = next(_examples)
        self.players = [f"e{self.example}_{name}" for name in ("ann", "ben", "cat")]
        self.free = dict.fromkeys(self.players, 0)
        self.locked = dict.fromkeys(self.players, 0)
        self.staked = dict.fromkeys(self.players, 0)
        self.open_bets: dict[bytes, tuple[str, str, int]] = {}  # id -> (game, player, amount)
        self.settled: dict[bytes, str] = {}
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.game_numbers = itertools.count(1)

    @initialize()
    def players_and_pools(self) -> None:
        for player in self.players:
            games.create_user(
                self.db,
                player,
                player,
                self.example.to_bytes(4) + player.encode().ljust(28, b"\0")[:28],
            )
        games.fund_pool(self.db, pool="house", amount=POOL)
        games.fund_pool(self.db, pool="rewards", amount=POOL)
        self.start = self._system_posted()
        self.funded = 0  # since `start`, which counts the pools just funded

    def _system_posted(self) -> int:
        return sum(ledger.get_balance(self.db, account, CRAP).posted
                   for account in (HOUSE, REWARDS, STAKING))  # fmt: skip

    @rule(player=st.sampled_from(range(3)), amount=amounts)
    def deposit(self, player: int, amount: int) -> None:
        games.deposit(self.db, user_id=self.players[player], amount=amount)
        self.free[self.players[player]] += amount
        self.funded += amount

    @rule(target=games_)
    def new_game(self) -> str:
        game_id = f"e{self.example}_g{next(self.game_numbers)}"
        games.create_game(self.db, game_id=game_id)
        return game_id

    @rule(game=games_, player=st.sampled_from(range(3)), bet_type=st.sampled_from(BET_TYPES),
          amount=amounts)  # fmt: skip
    def place_bet(self, game: str, player: int, bet_type: str, amount: int) -> None:
        name = self.players[player]
        try:
            bet = games.place_bet(
                self.db, game_id=game, player_id=name, bet_type=bet_type, amount=amount
            )
        except ledger.InsufficientFunds:
            assert amount > self.free[name]
            return
        except Conflict:
            return  # the game is resolved, or the bet type waits for another phase
        assert amount <= self.free[name]
        self.free[name] -= amount
        self.locked[name] += amount
        self.open_bets[bet.id] = (game, name, amount)

    @rule(game=games_, roll=dice)
    def roll(self, game: str, roll: tuple[int, int]) -> None:
        try:
            result = games.roll_dice(self.db, game_id=game, die1=roll[0], die2=roll[1])
        except Conflict:
            return
        if result.settlement is not None:
            self._settle(result.settlement)

    @rule(game=games_)
    def resolve_again(self, game: str) -> None:
        try:
            settlement = games.resolve_game(self.db, game)
        except Conflict:
            return  # not decided yet
        for bet_hex, outcome in settlement.outcomes.items():
            assert self.settled[bytes.fromhex(bet_hex)] == outcome  # settled once, unchanged

    def _settle(self, settlement: games.Settlement) -> None:
        for bet_hex, outcome in settlement.outcomes.items():
            bet_id = bytes.fromhex(bet_hex)
            assert bet_id not in self.settled
            _game, name, amount = self.open_bets.pop(bet_id)
            self.settled[bet_id] = outcome
            self.locked[name] -= amount
            if outcome != "lost":
                self.free[name] += amount + settlement.payouts[bet_hex]

    @rule(target=positions, player=st.sampled_from(range(3)), amount=amounts,
          days=st.integers(7, 60))  # fmt: skip
    def stake(self, player: int, amount: int, days: int) -> str:
        name = self.players[player]
        try:
            position = games.stake(self.db, user_id=name, amount=amount, lock_period_days=days,
                                   reward_rate="0.1", now=self.now)  # fmt: skip
        except ledger.InsufficientFunds:
            assert amount > self.free[name]
            return "none"
        self.free[name] -= amount
        self.staked[name] += amount
        return position.id

    @rule(position=positions, days=st.integers(0, 30))
    def claim(self, position: str, days: int) -> None:
        self.now += timedelta(days=days)
        if position == "none":
            return
        claim = games.claim_rewards(self.db, position_id=position, now=self.now)
        self.free[claim.position.user_id] += claim.paid

    @rule(position=positions, days=st.integers(0, 60))
    def unstake(self, position: str, days: int) -> None:
        self.now += timedelta(days=days)
        if position == "none":
            return
        done = games.unstake(self.db, position_id=position, now=self.now)
        if done.released or done.penalty:
            name = done.position.user_id
            self.staked[name] -= done.released + done.penalty
            self.free[name] += done.released
        self.free[done.position.user_id] += done.rewards_paid

    @invariant()
    def token_balances_equal_the_ledger_and_the_model(self) -> None:
        for name in self.players:
            row = games.get_token_balance(self.db, name)
            account = ledger.get_balance(self.db, f"user:{name}", CRAP)
            assert row.balance == account.available == self.free[name] >= 0
            assert row.locked_balance + row.staked_balance == account.held
            assert (row.locked_balance, row.staked_balance) == (
                self.locked[name],
                self.staked[name],
            )

    @invariant()
    def crap_is_conserved(self) -> None:
        players = sum(self.free[n] + self.locked[n] + self.staked[n] for n in self.players)
        assert players + self._system_posted() - self.start == self.funded

    def teardown(self) -> None:
        assert games.verify(self.db) == []


@pytest.mark.slow
def test_random_play_keeps_crap_conserved_and_settles_every_bet_once(games_db):
    GamesMachine.db = games_db
    run_state_machine_as_test(
        GamesMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert ledger.check_ledger(games_db).ok
