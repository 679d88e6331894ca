"""The seed's GameRepository: games saved and loaded, active games, and the play itself —
dice rolled through the phases (come-out, point, resolved), bets settled when a roll decides
the game, in that roll's transaction."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, NotFound
from chaindb.games import craps
from chaindb.games.audit import SYSTEM_ACTOR, audit
from chaindb.games.game_records import Game, audited_game, lock_game, update_game
from chaindb.games.schema import GAME_ID_CHARS_MAX, game_rolls, games
from chaindb.games.settlement import Settlement, settle_bets, settlement_of
from chaindb.text import METADATA_BYTES_MAX, identifier, json_value
from chaindb.types import utc_now
from chaindb.validation import Input, Row, parse_limit, validated

GameId = identifier(GAME_ID_CHARS_MAX)
GameState = json_value(METADATA_BYTES_MAX)
Die = Annotated[int, Field(strict=True, ge=1, le=6)]
ROLLS_PER_GAME_MAX = 10_000
ACTIVE_GAMES_LIMIT_MAX = 1_000


class RollResult(Row):
    game: Game
    roll_number: int
    total: int
    settlement: Settlement | None  # set when this roll decided the game


class _NewGame(Input):
    game_id: GameId
    state: GameState


class _SavedState(Input):
    game_id: GameId
    state: GameState


class _Dice(Input):
    game_id: GameId
    die1: Die
    die2: Die


def create_game(
    target: Database | Connection,
    *,
    game_id: str | None = None,
    state: dict[str, Any] | None = None,
    actor: str = SYSTEM_ACTOR,
) -> Game:
    """A new game in its come-out phase; `state` is the application's own snapshot (JSON)."""
    new = validated(_NewGame, game_id=game_id or uuid.uuid4().hex, state=state or {})
    with writing(target) as conn:
        if conn.execute(sa.select(games.c.id).where(games.c.id == new.game_id)).first():
            raise Conflict(f"game_id: game {new.game_id!r} already exists")
        row = conn.execute(
            games.insert().values(id=new.game_id, state=new.state).returning(games)
        ).one()
        game = Game.model_validate(row)
        audit(
            conn,
            actor=actor,
            entity_type="game",
            entity_id=game.id,
            action="create",
            before=None,
            after=audited_game(game),
        )
    return game


def get_game(target: Database | Connection, game_id: str) -> Game | None:
    with reading(target) as conn:
        row = conn.execute(sa.select(games).where(games.c.id == game_id)).first()
    return None if row is None else Game.model_validate(row)


def save_game_state(
    target: Database | Connection,
    game_id: str,
    state: dict[str, Any],
    *,
    actor: str = SYSTEM_ACTOR,
) -> Game:
    """The seed's save: replace the application's snapshot of the game."""
    new = validated(_SavedState, game_id=game_id, state=state)
    with writing(target) as conn:
        before = lock_game(conn, new.game_id)
        game = update_game(conn, before.id, state=new.state)
        audit(
            conn,
            actor=actor,
            entity_type="game",
            entity_id=game.id,
            action="save_state",
            before={"state": before.state},
            after={"state": game.state},
        )
    return game


def load_game_state(target: Database | Connection, game_id: str) -> dict[str, Any]:
    """The seed's load: the application's snapshot of the game."""
    game = get_game(target, game_id)
    if game is None:
        raise NotFound(f"game_id: game {game_id!r} does not exist")
    return game.state


def get_active_games(target: Database | Connection, *, limit: int = 100) -> list[Game]:
    """Games not yet resolved, oldest first (the partial index ix_games_active)."""
    limit = parse_limit(limit, ACTIVE_GAMES_LIMIT_MAX)
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(games)
            .where(games.c.completed_at.is_(None))
            .order_by(games.c.created_at, games.c.id)
            .limit(limit)
        )
        return [Game.model_validate(row) for row in rows]


def roll_dice(
    target: Database | Connection,
    *,
    game_id: str,
    die1: int,
    die2: int,
    actor: str = SYSTEM_ACTOR,
) -> RollResult:
    """Record a roll (the dice the players' commit-reveal agreed on) and move the game on:
    come-out → point → resolved. The roll that decides the game settles every bet in the same
    transaction."""
    dice = validated(_Dice, game_id=game_id, die1=die1, die2=die2)
    with writing(target) as conn:
        game = lock_game(conn, dice.game_id)
        if game.phase == "resolved":
            raise Conflict(f"game {game.id!r} is resolved: no more rolls")
        if game.roll_count >= ROLLS_PER_GAME_MAX:
            raise Conflict(f"game {game.id!r} has {ROLLS_PER_GAME_MAX} rolls, the most a game has")
        roll = craps.Roll(dice.die1, dice.die2)
        number = game.roll_count + 1
        conn.execute(
            game_rolls.insert().values(
                game_id=game.id, roll_number=number, die1=roll.die1, die2=roll.die2
            )
        )
        line = craps.after_roll(craps.LineState(game.phase, game.point), roll)  # type: ignore[arg-type]
        decided = line.phase == "resolved"
        moved = update_game(
            conn,
            game.id,
            roll_count=number,
            phase=line.phase,
            point=line.point,
            completed_at=utc_now() if decided else None,
        )
        audit(
            conn,
            actor=actor,
            entity_type="game",
            entity_id=game.id,
            action="roll",
            before=audited_game(game),
            after={**audited_game(moved), "roll": [roll.die1, roll.die2]},
        )
        settlement = (
            settle_bets(conn, moved, rolls(conn, game.id), actor=actor) if decided else None
        )
        if settlement is not None:
            moved = update_game(conn, game.id, winner_id=settlement.winner_id)
    return RollResult(game=moved, roll_number=number, total=roll.total, settlement=settlement)


def resolve_game(
    target: Database | Connection, game_id: str, *, actor: str = SYSTEM_ACTOR
) -> Settlement:
    """The settlement of a decided game: each bet won (stake back and its profit from the
    house), lost (stake to the house) or pushed (stake back). Settling happens once, with the
    deciding roll: resolving again pays nothing more and returns the same settlement."""
    with writing(target) as conn:
        game = lock_game(conn, game_id)
        if game.phase != "resolved":
            raise Conflict(
                f"game {game.id!r} is not decided yet ({game.phase}): roll until it resolves"
            )
        settled = settle_bets(conn, game, rolls(conn, game.id), actor=actor)
        return settled if settled is not None else settlement_of(conn, game)


def rolls(conn: Connection, game_id: str) -> list[craps.Roll]:
    """The game's rolls in order (its primary key)."""
    rows = conn.execute(
        sa.select(game_rolls.c.die1, game_rolls.c.die2)
        .where(game_rolls.c.game_id == game_id)
        .order_by(game_rolls.c.roll_number)
    )
    return [craps.Roll(row.die1, row.die2) for row in rows]
