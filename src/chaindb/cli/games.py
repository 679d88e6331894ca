"""chaindb games: players, CRAP, games and bets, staking, consensus votes, leaderboards.

Each command parses its arguments and calls one function of `chaindb.games` with the names a
Python caller uses. A table by default; --json prints what the function returned (amounts as
exact integers, bytes as 0x-hex).
"""

from __future__ import annotations

from typing import Any

import typer

from chaindb import games
from chaindb.cli.output import open_database
from chaindb.cli.rows import output_format, print_record, print_rows
from chaindb.cli.values import AmountParam, ChoiceParam, IdParam

games_app = typer.Typer(
    help="BitCraps games: players, CRAP balances, craps games and bets, staking, consensus.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(games_app, name="games")


def _json() -> Any:
    return typer.Option(False, "--json", help="Print JSON (amounts as exact integers).")


def _amount(help_text: str) -> Any:
    return typer.Option(..., "--amount", click_type=AmountParam(), help=help_text)


def _show(record: dict[str, Any], as_json: bool) -> None:
    print_record(record, output_format(as_json, False))


@games_app.command("register")
def register_command(
    ctx: typer.Context,
    user_id: str = typer.Argument(..., metavar="USER_ID"),
    username: str = typer.Option(..., "--username"),
    public_key: str = typer.Option(..., "--public-key", metavar="HEX", help="ed25519, 32 bytes."),
    as_json: bool = _json(),
) -> None:
    """Register a player: a user with an ed25519 public key (games.create_user)."""
    with open_database(ctx, writes=True) as db:
        player = games.create_user(db, user_id, username, public_key)
    _show(player.model_dump(), as_json)


@games_app.command("deposit")
def deposit_command(
    ctx: typer.Context,
    user_id: str = typer.Argument(..., metavar="USER_ID"),
    amount: int = _amount("CRAP in base units (6 decimals: 1 CRAP is 1000000)."),
    key: str | None = typer.Option(None, "--key", metavar="IDEMPOTENCY_KEY"),
    as_json: bool = _json(),
) -> None:
    """Credit a player new CRAP (games.deposit)."""
    with open_database(ctx, writes=True) as db:
        done = games.deposit(db, user_id=user_id, amount=amount, idempotency_key=key)
    _show(done._asdict(), as_json)


@games_app.command("fund")
def fund_command(
    ctx: typer.Context,
    pool: str = typer.Option(..., "--pool", click_type=ChoiceParam(("house", "rewards"))),
    amount: int = _amount("CRAP in base units."),
    as_json: bool = _json(),
) -> None:
    """Issue CRAP to the house (pays winning bets) or the rewards pool (games.fund_pool)."""
    with open_database(ctx, writes=True) as db:
        done = games.fund_pool(db, pool=pool, amount=amount)  # type: ignore[arg-type]
    _show(done._asdict(), as_json)


@games_app.command("balance")
def balance_command(
    ctx: typer.Context,
    user_id: str = typer.Argument(..., metavar="USER_ID"),
    as_json: bool = _json(),
) -> None:
    """A player's token_balances row: available, locked by bets, staked."""
    with open_database(ctx) as db:
        found = games.get_token_balance(db, user_id)
    _show(found.model_dump(), as_json)


@games_app.command("new-game")
def new_game_command(
    ctx: typer.Context,
    game_id: str | None = typer.Option(None, "--id", metavar="GAME_ID"),
    as_json: bool = _json(),
) -> None:
    """Start a game in its come-out phase (games.create_game)."""
    with open_database(ctx, writes=True) as db:
        game = games.create_game(db, game_id=game_id)
    _show(game.model_dump(), as_json)


@games_app.command("bet")
def bet_command(
    ctx: typer.Context,
    game_id: str = typer.Argument(..., metavar="GAME_ID"),
    player_id: str = typer.Argument(..., metavar="PLAYER_ID"),
    bet_type: str = typer.Argument(
        ..., metavar="BET_TYPE", click_type=ChoiceParam(games.BET_TYPES)
    ),
    amount: int = _amount("The stake, CRAP in base units (held at once)."),
    bet_id: str | None = typer.Option(None, "--bet-id", metavar="HEX", help="16 bytes."),
    as_json: bool = _json(),
) -> None:
    """Place a bet: the stake is held in the ledger (games.place_bet)."""
    with open_database(ctx, writes=True) as db:
        bet = games.place_bet(
            db, game_id=game_id, player_id=player_id, bet_type=bet_type,  # type: ignore[arg-type]
            amount=amount, bet_id=bet_id,
        )  # fmt: skip
    _show(bet.model_dump(), as_json)


@games_app.command("roll")
def roll_command(
    ctx: typer.Context,
    game_id: str = typer.Argument(..., metavar="GAME_ID"),
    die1: int = typer.Argument(..., min=1, max=6),
    die2: int = typer.Argument(..., min=1, max=6),
    as_json: bool = _json(),
) -> None:
    """Record a roll; the roll that decides the game settles its bets (games.roll_dice)."""
    with open_database(ctx, writes=True) as db:
        result = games.roll_dice(db, game_id=game_id, die1=die1, die2=die2)
    _show(result.model_dump(), as_json)


@games_app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    game_id: str = typer.Argument(..., metavar="GAME_ID"),
    as_json: bool = _json(),
) -> None:
    """A decided game's settlement (paid once, however often asked) (games.resolve_game)."""
    with open_database(ctx, writes=True) as db:
        settlement = games.resolve_game(db, game_id)
    _show(settlement.model_dump(), as_json)


@games_app.command("stake")
def stake_command(
    ctx: typer.Context,
    user_id: str = typer.Argument(..., metavar="USER_ID"),
    amount: int = _amount("CRAP in base units to hold."),
    days: int = typer.Option(..., "--days", help="Lock period (at least 7)."),
    rate: str = typer.Option(..., "--rate", help="Reward a year, a fraction: 0.05 is 5 %."),
    as_json: bool = _json(),
) -> None:
    """Open a staking position (games.stake)."""
    with open_database(ctx, writes=True) as db:
        position = games.stake(
            db, user_id=user_id, amount=amount, lock_period_days=days, reward_rate=rate
        )
    _show(position.model_dump(), as_json)


@games_app.command("claim")
def claim_command(
    ctx: typer.Context,
    position_id: str = typer.Argument(..., metavar="POSITION_ID"),
    as_json: bool = _json(),
) -> None:
    """Pay a position's accrued rewards (games.claim_rewards)."""
    with open_database(ctx, writes=True) as db:
        claim = games.claim_rewards(db, position_id=position_id)
    _show(claim.model_dump(), as_json)


@games_app.command("unstake")
def unstake_command(
    ctx: typer.Context,
    position_id: str = typer.Argument(..., metavar="POSITION_ID"),
    as_json: bool = _json(),
) -> None:
    """Close a position; before ends_at a penalty is kept (games.unstake)."""
    with open_database(ctx, writes=True) as db:
        done = games.unstake(db, position_id=position_id)
    _show(done.model_dump(), as_json)


@games_app.command("vote")
def vote_command(
    ctx: typer.Context,
    round_number: int = typer.Argument(..., metavar="ROUND", click_type=IdParam()),
    voter_id: str = typer.Argument(..., metavar="VOTER_ID"),
    signature: str = typer.Argument(..., metavar="SIGNATURE_HEX", help="ed25519, 64 bytes."),
    as_json: bool = _json(),
) -> None:
    """Store a signed vote if it verifies (games.cast_vote)."""
    with open_database(ctx, writes=True) as db:
        result = games.cast_vote(
            db, round_number=round_number, voter_id=voter_id, signature=signature
        )
    _show(result.model_dump(), as_json)


@games_app.command("leaderboard")
def leaderboard_command(
    ctx: typer.Context,
    by: str = typer.Option("winnings", "--by", click_type=ChoiceParam(("winnings", "games_won"))),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    as_json: bool = _json(),
) -> None:
    """The top players by total winnings or games won (games.leaderboard)."""
    with open_database(ctx) as db:
        board = games.leaderboard(db, by=by, limit=limit)  # type: ignore[arg-type]
    rows = [[row.rank, row.user_id, row.username, row.value] for row in board]
    print_rows(["rank", "user_id", "username", by], rows, output_format(as_json, False))
