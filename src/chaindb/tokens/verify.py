"""What `maintenance --check` asks of tokens: the seed's status columns say what core's chain
rows say, and every token has its ledger asset."""

from __future__ import annotations

import sqlalchemy as sa

from chaindb import core
from chaindb.database import Database
from chaindb.tokens.chain_status import status_of
from chaindb.tokens.schema import tokens, transactions

ROWS_PER_READ = 1_000


def verify(db: Database) -> list[str]:
    """Read in pages by id (memory stays bounded), each page's chain rows in one read."""
    problems: list[str] = []
    for table, link in ((tokens, "creation_tx_id"), (transactions, "blockchain_tx_id")):
        last_id = 0
        while True:
            with db.read() as conn:
                page = conn.execute(
                    sa.select(table.c.id, table.c.status, table.c[link].label("link"))
                    .where(table.c.id > last_id)
                    .order_by(table.c.id)
                    .limit(ROWS_PER_READ)
                ).all()
                chain = core.get_blockchain_transactions_by_id(
                    conn, [row.link for row in page if row.link is not None]
                )
            if not page:
                break
            problems += [_problem(table.name, row, chain) for row in page]
            last_id = page[-1].id
    with db.read() as conn:
        orphans = conn.execute(sa.select(tokens.c.id).where(tokens.c.asset_id.is_(None))).all()
    problems += [f"tokens {row.id}: no ledger asset" for row in orphans]
    return [problem for problem in problems if problem]


def _problem(table: str, row: sa.Row, chain: dict[int, core.BlockchainTransaction]) -> str:
    expected = "pending" if row.link is None else status_of(chain[row.link])
    if row.status == expected:
        return ""
    return f"{table} {row.id}: status {row.status}, its chain transaction says {expected}"
