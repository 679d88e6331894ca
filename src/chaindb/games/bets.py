"""Bets: a stake is a ledger hold from the player towards 'system:games_house' (available
drops at once, so the same CRAP cannot back two bets); the deciding roll settles each bet once:
won (hold voided, profit paid by the house), lost (hold posted to the house), push (voided)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, NamedTuple

import sqlalchemy as sa
from pydantic import BeforeValidator, ConfigDict, TypeAdapter, ValidationError, with_config
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from typing_extensions import TypedDict  # pydantic needs it before Python 3.12

from chaindb import ledger
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput
from chaindb.games import bet_statements, craps
from chaindb.games.audit import SYSTEM_ACTOR, AuditRow, audit_row
from chaindb.games.crap_token import HOUSE, hold_request
from chaindb.games.schema import BET_ID_BYTES, bets
from chaindb.types import UINT256_MAX, Amount, UserId, utc_now
from chaindb.validation import Input, Row, validated, validated_list

BETS_PER_GAME_MAX = 50_000  # what one resolution settles, in one transaction
REQUESTS_PER_BATCH_MAX = 9_000  # under the ledger's BATCH_SIZE_MAX
BETS_PER_READ_MAX = 500
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


class _Terms(NamedTuple):
    """A bet's terms, validated (a tuple of plain values: untracked by the garbage collector)."""

    game_id: str
    player_id: str
    bet_type: str
    amount: int
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


def _bet_id_value(value: object) -> bytes:
    try:
        return bet_id_rule(value)
    except InvalidInput as error:
        raise ValueError(error.rule) from None


@with_config(ConfigDict(extra="forbid"))
class _BetFields(TypedDict):
    """_NewBet's fields, for a batch checked in one call (a bet_id is required there)."""

    game_id: str
    player_id: UserId
    bet_type: craps.BetType
    amount: Amount
    bet_id: Annotated[bytes, BeforeValidator(_bet_id_value)]


_BET_FIELDS = TypeAdapter(list[_BetFields])


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
    terms = _Terms(new.game_id, new.player_id, new.bet_type, new.amount, new.bet_id)
    return _place_or_find(target, [terms], actor=new.player_id)[0]


def place_bets(
    target: Database | Connection, bets_to_place: Sequence[Mapping[str, Any]]
) -> list[Bet]:
    """Many bets in one transaction, all or none: each item takes place_bet's keywords (a
    bet_id is required, so that a retried batch is recognised). The holds are one ledger
    batch; a bad item is named by its position (`bets[3].amount`)."""
    if not 1 <= len(bets_to_place) <= BETS_PER_BATCH_MAX:
        raise InvalidInput("bets", len(bets_to_place), f"must hold 1 to {BETS_PER_BATCH_MAX} bets")
    return _place_or_find(target, _validated_items(bets_to_place), actor=SYSTEM_ACTOR)


def _place_or_find(target: Database | Connection, new: list[_Terms], *, actor: str) -> list[Bet]:
    """Place the bets; when that fails because their ids are taken (a retry), the bets placed
    first. Nobody looks for them beforehand: a retry is rare, and the bets' primary key refuses
    a taken id even under concurrent writers, so a failed write is the only time to look."""
    try:
        with writing(target) as conn:
            return _place(conn, new, actor=actor)
    except _FAILED_ON_A_RETRY:
        with reading(target) as conn:
            found = _bets_by_id(conn, [b.bet_id for b in new])
        if not found:
            raise
    if len(found) < len(new):
        raise Conflict("bets: some of these bet ids exist already, some do not")
    return [_same_bet(found[b.bet_id], b) for b in new]


# How placing bets already placed fails: their primary key taken, or, before it is reached,
# a game resolved since or a balance spent since.
_FAILED_ON_A_RETRY = (IntegrityError, Conflict, ledger.InsufficientFunds)


def _place(conn: Connection, new: list[_Terms], *, actor: str) -> list[Bet]:
    """Hold each stake and store the bets, their games' pots and the audit trail."""
    now = utc_now()
    games_before, game_rows = _add_to_pots(conn, new, actor, now)
    _refuse_bets_the_games_do_not_take(new, games_before)
    if len(new) == 1 and conn.dialect.name == "postgresql":
        return [_place_one_postgresql(conn, new[0], games_before, game_rows, now)]
    # No savepoint: any error here rolls back the whole placement (_place_or_find). No
    # idempotency key: the bet's primary key, written in this transaction, makes a bet id
    # hold once.
    holds = ledger.transfer_batch(
        conn, [hold_request(b.player_id, b.amount, HOUSE) for b in new], savepoint=False
    )
    placed_at = [games_before[b.game_id]["roll_count"] for b in new]
    bet_rows = [
        (b.bet_id, b.game_id, b.player_id, b.bet_type, b.amount, roll, hold.id, now)
        for b, roll, hold in zip(new, placed_at, holds, strict=True)
    ]  # in bet_statements.BET_COLUMNS' order
    held: dict[str, int] = defaultdict(int)
    for b in new:
        held[b.player_id] += b.amount
    # Each player's balance row records the available CRAP; the held side is each bet's row.
    bet_statements.insert_bets_and_audit(conn, bet_rows, game_rows, dict(sorted(held.items())), now)
    return _new_bets(bet_rows)


def _place_one_postgresql(
    conn: Connection,
    b: _Terms,
    games_before: dict[str, Mapping[str, Any]],
    game_rows: list[AuditRow],
    now: datetime,
) -> Bet:
    """One bet on PostgreSQL: its rows go with its hold's own (ledger.hold_with)."""
    roll = games_before[b.game_id]["roll_count"]
    bet_row = (b.bet_id, b.game_id, b.player_id, b.bet_type, b.amount, roll, now)
    rows = bet_statements.rows_with_hold(bet_row, game_rows, {b.player_id: b.amount}, now)
    asset_id = games_before[b.game_id]["crap_asset_id"]  # read with the game's row
    hold = ledger.hold_with(conn, hold_request(b.player_id, b.amount, HOUSE), rows,
                            asset_id=asset_id)  # fmt: skip
    return _new_bets([(*bet_row[:6], hold.id, now)])[0]


def _add_to_pots(
    conn: Connection, new: list[_Terms], actor: str, now: datetime
) -> tuple[dict[str, Mapping[str, Any]], list[AuditRow]]:
    """Lock the bets' games (in id order, before the ledger locks the players' accounts, as a
    roll does) and add the stakes to their pots; each game as it was, and the audit rows."""
    staked: dict[str, int] = defaultdict(int)
    for b in new:
        staked[b.game_id] += b.amount
    games_before: dict[str, Mapping[str, Any]] = {}
    audit_rows: list[AuditRow] = []
    for game_id in sorted(staked):
        before, after = bet_statements.lock_and_add_to_pot(conn, game_id, staked[game_id], now)
        games_before[game_id] = before
        audit_rows.append(audit_row(now, actor, "game", game_id, "bet", _audited_game(before),
                                    _audited_game(after)))  # fmt: skip
    return games_before, audit_rows


def _refuse_bets_the_games_do_not_take(
    new: list[_Terms], games_before: dict[str, Mapping[str, Any]]
) -> None:
    for position, b in enumerate(new):
        refused = craps.bet_allowed(b.bet_type, games_before[b.game_id]["phase"])  # type: ignore[arg-type]
        if refused:
            where = "bet_type" if len(new) == 1 else f"bets[{position}].bet_type"
            raise Conflict(f"{where}: {b.bet_type} refused on game {b.game_id!r}: {refused}")


def _new_bets(rows: list[tuple[Any, ...]]) -> list[Bet]:
    """The placed bets, from their rows (in bet_statements.BET_COLUMNS' order), in one call
    into pydantic (measured: 1.4 us a bet, where model_validate per bet took 3.6)."""
    return _BETS.validate_python([
        {"id": bet_id, "game_id": game_id, "player_id": player_id, "bet_type": bet_type,
         "amount": amount, "outcome": None, "payout": None, "placed_at_roll": placed_at_roll,
         "hold_transfer_id": hold_id, "settle_transfer_id": None, "payout_transfer_id": None,
         "created_at": created_at, "resolved_at": None}
        for bet_id, game_id, player_id, bet_type, amount, placed_at_roll, hold_id, created_at
        in rows
    ])  # fmt: skip


_BETS = TypeAdapter(list[Bet])


def _validated_items(items: Sequence[Mapping[str, Any]]) -> list[_Terms]:
    """The batch's items in one call into pydantic, as plain dicts (a model per bet gave the
    garbage collector thousands of objects to follow: measured, a tenth of a bet's time);
    when that refuses an item, _NewBet's models name the broken rule and the item by its
    position (`bets[3].amount`)."""
    plain = _plain_terms(items)
    if plain is not None:
        return plain
    try:
        checked = _BET_FIELDS.validate_python(items)
    except (ValidationError, InvalidInput):
        checked = [bet.model_dump() for bet in _validated_models(items)]
    new = [_Terms(*map(item.__getitem__, _Terms._fields)) for item in checked]
    for position, bet in enumerate(new):
        if bet.amount == 0:
            raise _at(position, InvalidInput("amount", 0, "must be > 0"))
    return new


def _plain_terms(items: Sequence[Mapping[str, Any]]) -> list[_Terms] | None:
    """The batch's terms when every item is plain: a dict of the five fields alone, the ids
    and the bet type strings, the amount an int in 1..2**256-1, the bet id 16 bytes. The
    rules of a game, a player and a bet type are checked once per distinct value (a batch
    names a few of each over and over: pydantic took 3 us a bet); None when anything is not
    plain, or is refused: _BET_FIELDS then decides and names the item and its rule."""
    try:
        terms = [_Terms(*map(item.__getitem__, _Terms._fields)) for item in items
                 if type(item) is dict and len(item) == len(_Terms._fields)]  # fmt: skip
    except KeyError:
        return None
    if len(terms) != len(items) or not all(map(_is_plain, terms)):
        return None
    players = {t.player_id for t in terms}
    bet_types = {t.bet_type for t in terms}
    try:
        if _PLAYER_IDS.validate_python(list(players)) != list(players):
            return None  # a rule that changes the value: the full path gives the values
    except ValidationError:
        return None
    return terms if bet_types <= _BET_TYPES else None


def _is_plain(t: _Terms) -> bool:
    return (
        type(t.amount) is int
        and 0 < t.amount <= UINT256_MAX
        and type(t.bet_id) is bytes
        and len(t.bet_id) == BET_ID_BYTES
        and type(t.game_id) is str
        and type(t.player_id) is str
        and type(t.bet_type) is str
    )


_PLAYER_IDS = TypeAdapter(list[UserId])
_BET_TYPES = frozenset(craps.BET_TYPES)


def _validated_models(items: Sequence[Mapping[str, Any]]) -> list[_NewBet]:
    with_ids = []
    for position, item in enumerate(items):
        try:
            with_ids.append({**item, "bet_id": _required_bet_id(item)})
        except InvalidInput as error:
            raise _at(position, error) from None
    try:
        return validated_list(_NewBet, with_ids)
    except InvalidInput as error:  # its field is `<position>.<field>`
        position, _, field = error.field.partition(".")
        raise _at(int(position), InvalidInput(field, error.value, error.rule)) from None


def _required_bet_id(item: Mapping[str, Any]) -> bytes:
    if "bet_id" not in item:
        raise InvalidInput("bet_id", None, "is required in a batch")
    return bet_id_rule(item["bet_id"])


def _at(position: int, error: InvalidInput) -> InvalidInput:
    return InvalidInput(f"bets[{position}].{error.field}", error.value, error.rule)


def _audited_game(game: Mapping[str, Any]) -> dict[str, Any]:
    return {name: game[name] for name in ("phase", "point", "roll_count", "pot_size")}


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


def _bets_by_id(conn: Connection, bet_ids: list[bytes]) -> dict[bytes, Bet]:
    found: dict[bytes, Bet] = {}
    for start in range(0, len(bet_ids), BETS_PER_READ_MAX):
        chunk = bet_ids[start : start + BETS_PER_READ_MAX]
        rows = conn.execute(sa.select(bets).where(bets.c.id.in_(chunk)))
        found.update({row.id: Bet.model_validate(row) for row in rows})
    return found


def _same_bet(existing: Bet, new: _Terms) -> Bet:
    if (existing.game_id, existing.player_id, existing.bet_type, existing.amount) != (
        new.game_id,
        new.player_id,
        new.bet_type,
        new.amount,
    ):
        raise Conflict(f"bet_id: bet {new.bet_id.hex()} exists with other terms")
    return existing
