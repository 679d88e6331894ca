"""Bets: a stake is a ledger hold from the player towards 'system:games_house' (available
drops at once, so the same CRAP cannot back two bets); the deciding roll settles each bet once:
won (hold voided, profit paid by the house), lost (hold posted to the house), push (voided)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import ledger
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput
from chaindb.games import craps
from chaindb.games.audit import SYSTEM_ACTOR, audit_many
from chaindb.games.crap_token import (
    CRAP,
    HOUSE,
    audit_balance,
    get_token_balance,
    token_balances_of,
)
from chaindb.games.game_records import Game, audited_game, lock_game, update_game
from chaindb.games.schema import BET_ID_BYTES, bets
from chaindb.types import Amount, UserId, utc_now
from chaindb.validation import Input, Row, validated

BETS_PER_GAME_MAX = 50_000  # what one resolution settles, in one transaction
REQUESTS_PER_BATCH_MAX = 9_000  # under the ledger's BATCH_SIZE_MAX
PLAYERS_PER_READ_MAX = 500
BETS_PER_BATCH_MAX = 5_000


class Bet(Row):
    id: bytes
    game_id: str
    player_id: str
    bet_type: str
    amount: int
    outcome: str | None
    payout: int | None  # the profit paid on a win (0 on a loss or push)
    placed_at_roll: int
    hold_transfer_id: int
    settle_transfer_id: int | None
    payout_transfer_id: int | None
    created_at: datetime
    resolved_at: datetime | None


class _NewBet(Input):
    game_id: str
    player_id: UserId
    bet_type: craps.BetType
    amount: Amount
    bet_id: bytes


def bet_id_rule(value: object) -> bytes:
    """16 bytes (or 32 hex digits): the seed's BLOB bet id."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise InvalidInput("bet_id", value, "must be 16 bytes or 32 hex digits") from None
    if not isinstance(value, bytes | bytearray) or len(value) != BET_ID_BYTES:
        raise InvalidInput("bet_id", value, f"must be {BET_ID_BYTES} bytes")
    return bytes(value)


def place_bet(
    target: Database | Connection,
    *,
    game_id: str,
    player_id: str,
    bet_type: craps.BetType,
    amount: int,
    bet_id: bytes | str | None = None,
) -> Bet:
    """Stake `amount` CRAP (base units) on `bet_type`. The stake is held at once (an
    InsufficientFunds names the account when it is short). Placing the same bet_id again
    returns the first bet; a bet on a resolved game is refused."""
    new = validated(
        _NewBet,
        game_id=game_id,
        player_id=player_id,
        bet_type=bet_type,
        amount=amount,
        bet_id=bet_id_rule(bet_id) if bet_id is not None else uuid.uuid4().bytes,
    )
    if new.amount == 0:
        raise InvalidInput("amount", amount, "must be > 0")
    with writing(target) as conn:
        game = lock_game(conn, new.game_id)
        existing = _bet(conn, new.bet_id)
        if existing is not None:
            return _same_bet(existing, new)
        refused = craps.bet_allowed(new.bet_type, game.phase)  # type: ignore[arg-type]
        if refused:
            raise Conflict(f"bet_type: {new.bet_type} refused on game {game.id!r}: {refused}")
        before = get_token_balance(conn, new.player_id)
        hold = ledger.transfer(
            conn,
            debit=f"user:{new.player_id}",
            credit=HOUSE,
            amount=new.amount,
            kind="locked_escrow",
            asset=CRAP,
            pending=True,
            idempotency_key=f"games:bet:{new.bet_id.hex()}:hold",
        )
        row = conn.execute(
            bets.insert()
            .values(
                id=new.bet_id,
                game_id=game.id,
                player_id=new.player_id,
                bet_type=new.bet_type,
                amount=new.amount,
                placed_at_roll=game.roll_count,
                hold_transfer_id=hold.id,
            )
            .returning(bets)
        ).one()
        moved = update_game(conn, game.id, pot_size=game.pot_size + new.amount)
        bet = Bet.model_validate(row)
        audit_many(
            conn,
            [
                (new.player_id, "bet", bet.id.hex(), "place", None, _audited(bet)),
                (new.player_id, "game", game.id, "bet", audited_game(game), audited_game(moved)),
            ],
        )
        after = before.model_copy(
            update={
                "balance": before.balance - new.amount,
                "locked_balance": before.locked_balance + new.amount,
            }
        )
        audit_balance(conn, new.player_id, new.player_id, "bet", before, after)
    return bet


def place_bets(
    target: Database | Connection, bets_to_place: Sequence[Mapping[str, Any]]
) -> list[Bet]:
    """Many bets in one transaction, all or none: each item takes place_bet's keywords (a
    bet_id is required, so that a retried batch is recognised). The holds are one ledger
    batch; a bad item is named by its position (`bets[3].amount`)."""
    if not 1 <= len(bets_to_place) <= BETS_PER_BATCH_MAX:
        raise InvalidInput("bets", len(bets_to_place), f"must hold 1 to {BETS_PER_BATCH_MAX} bets")
    new = [_validated_item(position, item) for position, item in enumerate(bets_to_place)]
    with writing(target) as conn:
        found = {
            row.id: Bet.model_validate(row)
            for row in conn.execute(sa.select(bets).where(bets.c.id.in_([b.bet_id for b in new])))
        }
        if found:
            if len(found) < len(new):
                raise Conflict("bets: some of these bet ids exist already, some do not")
            return [_same_bet(found[b.bet_id], b) for b in new]
        locked = {game_id: lock_game(conn, game_id) for game_id in sorted({b.game_id for b in new})}
        for position, b in enumerate(new):
            refused = craps.bet_allowed(b.bet_type, locked[b.game_id].phase)  # type: ignore[arg-type]
            if refused:
                raise Conflict(f"bets[{position}].bet_type: {b.bet_type} refused: {refused}")
        players = sorted({b.player_id for b in new})
        before = token_balances_of(conn, players)
        holds = ledger.transfer_batch(conn, [_hold(b) for b in new])
        now = utc_now()
        rows = [
            {
                "id": b.bet_id, "game_id": b.game_id, "player_id": b.player_id,
                "bet_type": b.bet_type, "amount": b.amount, "outcome": None, "payout": None,
                "placed_at_roll": locked[b.game_id].roll_count, "hold_transfer_id": hold.id,
                "settle_transfer_id": None, "payout_transfer_id": None, "created_at": now,
                "resolved_at": None,
            }
            for b, hold in zip(new, holds, strict=True)
        ]  # fmt: skip
        conn.execute(bets.insert(), rows)
        placed = [Bet.model_validate(row) for row in rows]
        _add_to_pots(conn, locked, placed)
        staked: dict[str, int] = defaultdict(int)
        for bet in placed:
            staked[bet.player_id] += bet.amount
        audit_many(
            conn, [(b.player_id, "bet", b.id.hex(), "place", None, _audited(b)) for b in placed]
        )
        for player in players:
            after = before[player].model_copy(
                update={
                    "balance": before[player].balance - staked[player],
                    "locked_balance": before[player].locked_balance + staked[player],
                }
            )
            audit_balance(conn, player, player, "bet", before[player], after)
    return placed


def _validated_item(position: int, item: Mapping[str, Any]) -> _NewBet:
    try:
        if "bet_id" not in item:
            raise InvalidInput("bet_id", None, "is required in a batch")
        new = validated(_NewBet, **{**item, "bet_id": bet_id_rule(item["bet_id"])})
        if new.amount == 0:
            raise InvalidInput("amount", 0, "must be > 0")
    except InvalidInput as error:
        raise InvalidInput(f"bets[{position}].{error.field}", error.value, error.rule) from None
    return new


def _hold(bet: _NewBet) -> ledger.TransferRequest:
    return ledger.TransferRequest(
        debit=f"user:{bet.player_id}",
        credit=HOUSE,
        amount=bet.amount,
        kind="locked_escrow",
        asset=CRAP,
        pending=True,
        idempotency_key=f"games:bet:{bet.bet_id.hex()}:hold",
    )


def _add_to_pots(conn: Connection, locked: dict[str, Game], placed: list[Bet]) -> None:
    added: dict[str, int] = defaultdict(int)
    for bet in placed:
        added[bet.game_id] += bet.amount
    for game_id, amount in added.items():
        before = locked[game_id]
        moved = update_game(conn, game_id, pot_size=before.pot_size + amount)
        audit_many(conn, [(SYSTEM_ACTOR, "game", game_id, "bet", audited_game(before),
                           audited_game(moved))])  # fmt: skip


def get_bet(target: Database | Connection, bet_id: bytes | str) -> Bet | None:
    with reading(target) as conn:
        return _bet(conn, bet_id_rule(bet_id))


def get_bets(target: Database | Connection, game_id: str) -> list[Bet]:
    """The game's bets in the order they were placed (index ix_bets_game)."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(bets)
            .where(bets.c.game_id == game_id)
            .order_by(bets.c.created_at, bets.c.id)
            .limit(BETS_PER_GAME_MAX)
        )
        return [Bet.model_validate(row) for row in rows]


def _bet(conn: Connection, bet_id: bytes) -> Bet | None:
    row = conn.execute(sa.select(bets).where(bets.c.id == bet_id)).first()
    return None if row is None else Bet.model_validate(row)


def _same_bet(existing: Bet, new: _NewBet) -> Bet:
    if (existing.game_id, existing.player_id, existing.bet_type, existing.amount) != (
        new.game_id,
        new.player_id,
        new.bet_type,
        new.amount,
    ):
        raise Conflict(f"bet_id: bet {new.bet_id.hex()} exists with other terms")
    return existing


def _audited(bet: Bet) -> dict[str, object]:
    return {
        "game_id": bet.game_id,
        "bet_type": bet.bet_type,
        "amount": bet.amount,
        "hold_transfer_id": bet.hold_transfer_id,
    }
