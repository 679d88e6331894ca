"""Escrow records must agree with the ledger holds they point at."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.challenges.schema import challenge_escrow_records as records
from chaindb.ledger.schema import ledger_holds, ledger_transfers


def escrow_problems(conn: Connection) -> list[str]:
    hold = ledger_transfers.alias("hold")
    rows = conn.execute(
        sa.select(
            records.c.id,
            records.c.status,
            records.c.amount_escrowed,
            hold.c.amount,
            ledger_holds.c.transfer_id.label("open_hold"),
        )
        .join(hold, hold.c.id == records.c.hold_transfer_id)
        .outerjoin(ledger_holds, ledger_holds.c.transfer_id == records.c.hold_transfer_id)
    )
    problems = []
    for row in rows:
        if row.amount_escrowed != row.amount:
            problems.append(
                f"escrow {row.id}: escrowed {row.amount_escrowed}, its hold is {row.amount}"
            )
        if (row.status == "locked") != (row.open_hold is not None):
            state = "open" if row.open_hold is not None else "settled"
            problems.append(f"escrow {row.id} is {row.status} but its hold is {state}")
    return problems
