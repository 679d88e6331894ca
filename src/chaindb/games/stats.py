"""The seed's StatsRepository: each player's counters and each game's figures, added to when a
game is resolved (in its transaction), so a leaderboard reads an index and never sums bets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import core
from chaindb.database import Database, dialect_insert, reading
from chaindb.errors import InvalidInput
from chaindb.games.game_records import Game
from chaindb.games.schema import game_statistics, player_stats
from chaindb.validation import Row, parse_limit

LEADERBOARD_LIMIT_MAX = 1_000
# Core's users, through its face (as studio reads other modules' tables): the leaderboard
# joins their usernames in its one statement.
_users = core.metadata.tables["users"]
STAT_COUNTERS = ("games_played", "games_won", "bets_won", "bets_lost", "bets_pushed")
STAT_AMOUNTS = ("total_wagered", "total_winnings", "total_losses")


@dataclass
class PlayerResult:
    """One player's part in one resolved game."""

    wagered: int = 0
    winnings: int = 0  # profits paid
    losses: int = 0  # stakes lost
    bets_won: int = 0
    bets_lost: int = 0
    bets_pushed: int = 0

    @property
    def won_game(self) -> bool:
        return self.winnings > self.losses


class PlayerStats(Row):
    user_id: str
    games_played: int
    games_won: int
    bets_won: int
    bets_lost: int
    bets_pushed: int
    total_wagered: int
    total_winnings: int
    total_losses: int
    updated_at: datetime


class LeaderboardRow(Row):
    rank: int
    user_id: str
    username: str | None
    value: int  # total_winnings or games_won


class GameStatistics(Row):
    game_id: str
    bet_count: int
    player_count: int
    roll_count: int
    total_wagered: int
    total_paid_out: int
    house_take: int
    duration_ms: int
    resolved_at: datetime


def record_resolution(
    conn: Connection,
    game: Game,
    results: dict[str, PlayerResult],
    *,
    roll_count: int,
    resolved_at: datetime,
) -> dict[str, Any]:
    """Add a resolved game to its players' counters and store its figures (the caller's
    transaction). Returns the settlement's totals and the game's winner: the player with the
    largest net gain (ties: the smallest user id), None when nobody gained."""
    players = sorted(results)
    _add_to_players(conn, players, results, resolved_at)
    totals = {
        "total_wagered": sum(r.wagered for r in results.values()),
        "total_paid_out": sum(r.winnings for r in results.values()),
        "house_take": sum(r.losses for r in results.values()),
    }
    conn.execute(
        game_statistics.insert().values(
            game_id=game.id,
            bet_count=sum(r.bets_won + r.bets_lost + r.bets_pushed for r in results.values()),
            player_count=len(players),
            roll_count=roll_count,
            duration_ms=int((resolved_at - game.created_at).total_seconds() * 1000),
            resolved_at=resolved_at,
            **totals,
        )
    )
    gains = {p: results[p].winnings - results[p].losses for p in players}
    best = min(players, key=lambda p: (-gains[p], p))
    return {**totals, "winner_id": best if gains[best] > 0 else None}


def _add_to_players(
    conn: Connection, players: list[str], results: dict[str, PlayerResult], now: datetime
) -> None:
    conn.execute(
        dialect_insert(conn, player_stats).on_conflict_do_nothing(),
        [{"user_id": player} for player in players],
    )
    # Locked in user id order, so two resolutions sharing players never deadlock.
    current = {
        row.user_id: row
        for row in conn.execute(
            sa.select(player_stats)
            .where(player_stats.c.user_id.in_(players))
            .order_by(player_stats.c.user_id)
            .with_for_update()
        )
    }
    conn.execute(
        player_stats.update()
        .where(player_stats.c.user_id == sa.bindparam("player"))
        .values(
            {
                **{name: sa.bindparam(f"new_{name}") for name in (*STAT_COUNTERS, *STAT_AMOUNTS)},
                "updated_at": sa.bindparam("now"),
            }
        ),
        [{**_added(current[player], results[player]), "now": now} for player in players],
    )


def _added(row: sa.Row, result: PlayerResult) -> dict[str, Any]:
    return {
        "player": row.user_id,
        "new_games_played": row.games_played + 1,
        "new_games_won": row.games_won + int(result.won_game),
        "new_bets_won": row.bets_won + result.bets_won,
        "new_bets_lost": row.bets_lost + result.bets_lost,
        "new_bets_pushed": row.bets_pushed + result.bets_pushed,
        "new_total_wagered": row.total_wagered + result.wagered,
        "new_total_winnings": row.total_winnings + result.winnings,
        "new_total_losses": row.total_losses + result.losses,
    }


def get_player_stats(target: Database | Connection, user_id: str) -> PlayerStats | None:
    """A player's counters (None before their first resolved game)."""
    with reading(target, stale_ok=True) as conn:
        row = conn.execute(sa.select(player_stats).where(player_stats.c.user_id == user_id)).first()
    return None if row is None else PlayerStats.model_validate(row)


def get_game_statistics(target: Database | Connection, game_id: str) -> GameStatistics | None:
    with reading(target, stale_ok=True) as conn:
        row = conn.execute(
            sa.select(game_statistics).where(game_statistics.c.game_id == game_id)
        ).first()
    return None if row is None else GameStatistics.model_validate(row)


def leaderboard(
    target: Database | Connection,
    *,
    by: Literal["winnings", "games_won"] = "winnings",
    limit: int = 100,
) -> list[LeaderboardRow]:
    """The top players by total winnings or by games won; equal values share a rank.
    Reads `limit` entries of ix_player_stats_winnings or ix_player_stats_games_won."""
    limit = parse_limit(limit, LEADERBOARD_LIMIT_MAX)
    column = {"winnings": player_stats.c.total_winnings, "games_won": player_stats.c.games_won}
    if by not in column:
        raise InvalidInput("by", by, "must be 'winnings' or 'games_won'")
    order = column[by]
    with reading(target, stale_ok=True, snapshot=False) as conn:
        # One query: the index's first `limit` entries, each joined to its user by primary key
        # (a second query for the usernames was half the leaderboard's time); alone, it needs
        # no BEGIN and COMMIT around it.
        rows = conn.execute(
            sa.select(player_stats.c.user_id, _users.c.username, order.label("value"))
            .join(_users, _users.c.id == player_stats.c.user_id)
            .order_by(order.desc(), player_stats.c.user_id)
            .limit(limit)
        ).all()
    board: list[LeaderboardRow] = []
    rank, previous = 0, None
    for position, row in enumerate(rows, start=1):
        if row.value != previous:
            rank, previous = position, row.value
        board.append(
            LeaderboardRow(rank=rank, user_id=row.user_id, username=row.username, value=row.value)
        )
    return board
