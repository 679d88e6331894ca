"""What `maintenance --check` asks of games: bets and staking positions agree with the ledger
holds they point at (a bet is open exactly while its hold is, for the same amount)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from chaindb import ledger
from chaindb.database import Database
from chaindb.games.schema import bets, staking_positions

ROWS_PER_READ = 1_000
PAGES_MAX = 100_000  # 100 million rows


def verify(db: Database) -> list[str]:
    """Problems found, in pages by primary key (memory stays bounded)."""
    return _check(db, bets, bets.c.outcome.is_(None), "bet") + _check(
        db, staking_positions, staking_positions.c.is_active.is_(True), "staking position"
    )


def _check(db: Database, table: sa.Table, open_when: Any, noun: str) -> list[str]:
    problems: list[str] = []
    last: Any = None
    for _ in range(PAGES_MAX):
        query = sa.select(
            table.c.id, open_when.label("open"), table.c.amount, table.c.hold_transfer_id
        )
        if last is not None:
            query = query.where(table.c.id > last)
        with db.read() as conn:
            page = conn.execute(query.order_by(table.c.id).limit(ROWS_PER_READ)).all()
            holds = ledger.get_hold_states(conn, [row.hold_transfer_id for row in page])
        if not page:
            break
        for row in page:
            name = row.id.hex() if isinstance(row.id, bytes) else row.id
            hold = holds.get(row.hold_transfer_id)
            if hold is None:
                problems.append(f"{noun} {name}: its hold {row.hold_transfer_id} is not a hold")
                continue
            if hold.amount != row.amount:
                problems.append(f"{noun} {name}: amount {row.amount}, its hold {hold.amount}")
            if bool(row.open) != hold.open:
                state = "open" if hold.open else "settled"
                problems.append(
                    f"{noun} {name} is {'open' if row.open else 'closed'} but its hold is {state}"
                )
        last = page[-1].id
    return problems
