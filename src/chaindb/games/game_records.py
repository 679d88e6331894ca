"""A game's row: read, locked, updated (shared by the game and bet operations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.errors import NotFound
from chaindb.games.schema import games
from chaindb.types import utc_now
from chaindb.validation import Row


class Game(Row):
    id: str
    state: dict[str, Any]
    pot_size: int
    phase: str
    point: int | None
    roll_count: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    winner_id: str | None


def lock_game(conn: Connection, game_id: str) -> Game:
    row = conn.execute(sa.select(games).where(games.c.id == game_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"game_id: game {game_id!r} does not exist")
    return Game.model_validate(row)


def update_game(conn: Connection, game_id: str, **values: Any) -> Game:
    row = conn.execute(
        games.update()
        .where(games.c.id == game_id)
        .values(updated_at=utc_now(), **values)
        .returning(games)
    ).one()
    return Game.model_validate(row)


def audited_game(game: Game) -> dict[str, Any]:
    return {
        "phase": game.phase,
        "point": game.point,
        "roll_count": game.roll_count,
        "pot_size": game.pot_size,
    }
