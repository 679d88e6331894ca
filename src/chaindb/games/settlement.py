"""Settling a decided game's bets, once, in the deciding roll's transaction: won (hold
voided, profit paid by the house), lost (hold posted to the house), push (hold voided); then
the players' statistics, the game's figures and the audit trail, in the same transaction."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import ledger
from chaindb.errors import Conflict
from chaindb.games import craps
from chaindb.games.audit import SYSTEM_ACTOR, audit_many
from chaindb.games.bets import BETS_PER_GAME_MAX, REQUESTS_PER_BATCH_MAX, Bet
from chaindb.games.crap_token import CRAP, HOUSE, audit_balance, token_balances_of
from chaindb.games.game_records import Game
from chaindb.games.schema import bets
from chaindb.games.stats import PlayerResult, record_resolution
from chaindb.types import utc_now
from chaindb.validation import Row


class Settlement(Row):
    game_id: str
    outcomes: dict[str, str]  # bet id (hex) -> won | lost | push
    payouts: dict[str, int]  # bet id (hex) -> profit paid (won bets)
    total_wagered: int
    total_paid_out: int  # profits the house paid
    house_take: int  # stakes the house kept
    winner_id: str | None


def settle_bets(
    conn: Connection, game: Game, rolls: list[craps.Roll], *, actor: str = SYSTEM_ACTOR
) -> Settlement | None:
    """Settle the open bets of a decided game, in the caller's transaction (the game row
    locked). None when there was nothing left to settle."""
    open_bets = [
        Bet.model_validate(row)
        for row in conn.execute(
            sa.select(bets)
            .where(bets.c.game_id == game.id, bets.c.outcome.is_(None))
            .order_by(bets.c.id)
            .limit(BETS_PER_GAME_MAX + 1)
        )
    ]
    if not open_bets:
        return None
    if len(open_bets) > BETS_PER_GAME_MAX:
        raise Conflict(f"game {game.id!r} has more than {BETS_PER_GAME_MAX} bets to settle")
    decisions = {
        bet.id: craps.decide(bet.bet_type, bet.amount, rolls, bet.placed_at_roll)
        for bet in open_bets
    }
    players = sorted({bet.player_id for bet in open_bets})
    before = token_balances_of(conn, players)
    written = _move_stakes(conn, open_bets, decisions)
    now = utc_now()
    conn.execute(
        bets.update()
        .where(bets.c.id == sa.bindparam("bet_id"))
        .values(
            outcome=sa.bindparam("new_outcome"),
            payout=sa.bindparam("new_payout"),
            settle_transfer_id=sa.bindparam("settled_by"),
            payout_transfer_id=sa.bindparam("paid_by"),
            resolved_at=now,
        ),
        [
            {
                "bet_id": bet.id,
                "new_outcome": decisions[bet.id].outcome,
                "new_payout": decisions[bet.id].profit,
                "settled_by": written[bet.id][0],
                "paid_by": written[bet.id][1],
            }
            for bet in open_bets
        ],
    )
    results = _player_results(open_bets, decisions)
    settlement = record_resolution(conn, game, results, roll_count=len(rolls), resolved_at=now)
    after = token_balances_of(conn, players)
    audit_many(
        conn,
        [
            (actor, "bet", bet.id.hex(), "settle", {"outcome": None},
             {"outcome": decisions[bet.id].outcome, "payout": decisions[bet.id].profit})
            for bet in open_bets
        ],
    )  # fmt: skip
    for player in players:
        audit_balance(conn, actor, player, "settle", before[player], after[player])
    return Settlement(
        game_id=game.id,
        outcomes={bet.id.hex(): decisions[bet.id].outcome for bet in open_bets},
        payouts={bet.id.hex(): decisions[bet.id].profit for bet in open_bets},
        **settlement,
    )


def settlement_of(conn: Connection, game: Game) -> Settlement:
    """A settled game's settlement, read back."""
    settled = [
        Bet.model_validate(row)
        for row in conn.execute(
            sa.select(bets).where(bets.c.game_id == game.id).limit(BETS_PER_GAME_MAX)
        )
    ]
    paid = sum(bet.payout or 0 for bet in settled if bet.outcome == "won")
    return Settlement(
        game_id=game.id,
        outcomes={bet.id.hex(): bet.outcome or "" for bet in settled},
        payouts={bet.id.hex(): bet.payout or 0 for bet in settled},
        total_wagered=sum(bet.amount for bet in settled),
        total_paid_out=paid,
        house_take=sum(bet.amount for bet in settled if bet.outcome == "lost"),
        winner_id=game.winner_id,
    )


def _move_stakes(
    conn: Connection, open_bets: list[Bet], decisions: dict[bytes, craps.Decision]
) -> dict[bytes, tuple[int, int | None]]:
    """The ledger side of a settlement: losing stakes posted to the house first (so the house
    holds them before it pays), then holds voided, then profits paid. Returns, per bet, the
    transfer that settled its hold and the one that paid its profit."""
    posts, voids, payouts = [], [], []
    for bet in open_bets:
        decision = decisions[bet.id]
        key = f"games:bet:{bet.id.hex()}"
        if decision.outcome == "lost":
            posts.append(
                ledger.PostRequest(
                    pending_id=bet.hold_transfer_id,
                    kind="released_escrow",
                    idempotency_key=f"{key}:settle",
                )
            )
            continue
        voids.append(
            ledger.VoidRequest(
                pending_id=bet.hold_transfer_id, kind="refunded", idempotency_key=f"{key}:settle"
            )
        )
        if decision.profit > 0:
            payouts.append(
                ledger.TransferRequest(
                    debit=HOUSE,
                    credit=f"user:{bet.player_id}",
                    amount=decision.profit,
                    kind="payout",
                    asset=CRAP,
                    idempotency_key=f"{key}:payout",
                )
            )
    requests = [*posts, *voids, *payouts]
    written: list[ledger.Transfer] = []
    for start in range(0, len(requests), REQUESTS_PER_BATCH_MAX):
        written += ledger.transfer_batch(conn, requests[start : start + REQUESTS_PER_BATCH_MAX])
    settled_by = {t.pending_id: t.id for t in written if t.pending_id is not None}
    paid_by = {t.idempotency_key: t.id for t in written if t.kind == "payout"}
    return {
        bet.id: (settled_by[bet.hold_transfer_id], paid_by.get(f"games:bet:{bet.id.hex()}:payout"))
        for bet in open_bets
    }


def _player_results(
    open_bets: list[Bet], decisions: dict[bytes, craps.Decision]
) -> dict[str, PlayerResult]:
    results: dict[str, PlayerResult] = defaultdict(PlayerResult)
    for bet in open_bets:
        decision = decisions[bet.id]
        result = results[bet.player_id]
        result.wagered += bet.amount
        if decision.outcome == "won":
            result.bets_won += 1
            result.winnings += decision.profit
        elif decision.outcome == "lost":
            result.bets_lost += 1
            result.losses += bet.amount
        else:
            result.bets_pushed += 1
    return dict(results)
