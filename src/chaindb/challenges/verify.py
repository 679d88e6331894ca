"""Escrow records must agree with the ledger holds they point at."""

from __future__ import annotations

import sqlalchemy as sa

from chaindb import ledger
from chaindb.challenges.schema import challenge_escrow_records as records
from chaindb.database import Database

RECORDS_PER_READ = 1_000


def verify(db: Database) -> list[str]:
    """Each escrow record's amount is its hold's, and it is locked exactly while the hold is
    open. Read in pages by id, so memory stays bounded however many records there are."""
    problems: list[str] = []
    last_id = 0
    while True:
        with db.read() as conn:
            page = conn.execute(
                sa.select(
                    records.c.id,
                    records.c.status,
                    records.c.amount_escrowed,
                    records.c.hold_transfer_id,
                )
                .where(records.c.id > last_id)
                .order_by(records.c.id)
                .limit(RECORDS_PER_READ)
            ).all()
            holds = ledger.get_hold_states(conn, [row.hold_transfer_id for row in page])
        if not page:
            return problems
        problems += [problem for row in page for problem in _record_problems(row, holds)]
        last_id = page[-1].id


def _record_problems(row: sa.Row, holds: dict[int, ledger.HoldState]) -> list[str]:
    hold = holds.get(row.hold_transfer_id)
    if hold is None:
        return [f"escrow {row.id}: its hold {row.hold_transfer_id} is not a pending transfer"]
    problems = []
    if row.amount_escrowed != hold.amount:
        problems.append(
            f"escrow {row.id}: escrowed {row.amount_escrowed}, its hold is {hold.amount}"
        )
    if (row.status == "locked") != hold.open:
        state = "open" if hold.open else "settled"
        problems.append(f"escrow {row.id} is {row.status} but its hold is {state}")
    return problems
