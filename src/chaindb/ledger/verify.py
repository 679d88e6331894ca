"""Check (and repair) the ledger against its own history.

Every account's counters are recomputed from the immutable transfers and compared with what
the write path stored; each asset must sum to zero across its accounts; the open-holds table
must list exactly the pending transfers nobody posted or voided. This is what the seed's
update_user_points_balance does for one user, done for every account in bounded chunks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.database import Database, reading, writing
from chaindb.ledger.accounts import BURN, ISSUANCE
from chaindb.ledger.leaderboard import board_problems
from chaindb.ledger.schema import (
    ACCOUNT_COUNTERS,
    ledger_accounts,
    ledger_dropped_totals,
    ledger_holds,
    ledger_transfers,
)
from chaindb.types import amount_sum, utc_now

ACCOUNTS_PER_CHUNK = 10_000
DIFFERENCES_SHOWN_MAX = 100
COUNTERS = ACCOUNT_COUNTERS


@dataclass(frozen=True)
class Difference:
    account_id: int
    account: str
    column: str
    stored: int | None
    expected: int | None

    def __str__(self) -> str:
        return (
            f"account {self.account_id} ({self.account}): {self.column} is {self.stored}, "
            f"its transfers say {self.expected}"
        )


@dataclass
class LedgerReport:
    accounts_checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    unbalanced_assets: list[str] = field(default_factory=list)
    hold_problems: list[str] = field(default_factory=list)
    leaderboard_problems: list[str] = field(default_factory=list)
    repaired_accounts: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.differences
            or self.unbalanced_assets
            or self.hold_problems
            or self.leaderboard_problems
        )

    def problems(self) -> list[str]:
        shown = [str(d) for d in self.differences[:DIFFERENCES_SHOWN_MAX]]
        if len(self.differences) > DIFFERENCES_SHOWN_MAX:
            shown.append(f"... and {len(self.differences) - DIFFERENCES_SHOWN_MAX} more")
        return shown + self.unbalanced_assets + self.hold_problems + self.leaderboard_problems

    def as_dict(self) -> dict[str, Any]:
        report = asdict(self)
        report["ok"] = self.ok
        return report


def verify(db: Database) -> list[str]:
    """maintenance --check: every account against its transfers, assets summing to zero,
    the open holds against the pending transfers, the leaderboard against the accounts."""
    return check_ledger(db).problems()


def repair(db: Database) -> list[str]:
    """maintenance --repair: store what the transfers say."""
    repaired = check_ledger(db, repair=True).repaired_accounts
    return [f"ledger: repaired {repaired} accounts"] if repaired else []


def check_ledger(target: Database | Connection, *, repair: bool = False) -> LedgerReport:
    """Recompute every account from its transfers; with repair, store what they say."""
    report = LedgerReport()
    with writing(target) if repair else reading(target) as conn:
        last_id = 0
        while chunk := _accounts_after(conn, last_id, lock=repair):
            last_id = chunk[-1]["id"]
            expected = recompute(conn, [row["id"] for row in chunk], chunk)
            for row in chunk:
                found = _compare(row, expected[row["id"]])
                report.differences.extend(found)
                if found and repair:
                    _store(conn, row["id"], expected[row["id"]])
                    report.repaired_accounts += 1
            report.accounts_checked += len(chunk)
        report.unbalanced_assets = _unbalanced_assets(conn)
        report.hold_problems = _hold_problems(conn, repair=repair)
        report.leaderboard_problems = board_problems(conn, repair=repair)
    return report


def recompute(
    conn: Connection, account_ids: list[int], accounts: list[dict[str, Any]]
) -> dict[int, dict[str, int | None]]:
    """What each account's counters must be, from the transfers alone (set-based queries)."""
    expected: dict[int, dict[str, int | None]] = {
        row["id"]: {name: 0 for name in COUNTERS} for row in accounts
    }
    t = ledger_transfers
    posted = t.c.phase.in_(("single", "post"))
    for side, column in (
        ("debits_posted", t.c.debit_account_id),
        ("credits_posted", t.c.credit_account_id),
    ):
        for account_id, total in _sums(conn, column, account_ids, posted):
            expected[account_id][side] = total
    resolution = t.alias("resolution")
    resolved = sa.exists().where(resolution.c.pending_id == t.c.id)
    open_hold = sa.and_(t.c.phase == "pending", ~resolved)
    for side, column in (
        ("debits_pending", t.c.debit_account_id),
        ("credits_pending", t.c.credit_account_id),
    ):
        for account_id, total in _sums(conn, column, account_ids, open_hold):
            expected[account_id][side] = total
    # Net figures: issued = from issuance - back to it; burned = to burn - back out of it.
    for side, sign, column, other, name in (
        ("issued", 1, t.c.credit_account_id, t.c.debit_account_id, ISSUANCE),
        ("issued", -1, t.c.debit_account_id, t.c.credit_account_id, ISSUANCE),
        ("burned", 1, t.c.debit_account_id, t.c.credit_account_id, BURN),
        ("burned", -1, t.c.credit_account_id, t.c.debit_account_id, BURN),
    ):
        system = sa.select(ledger_accounts.c.id).where(
            ledger_accounts.c.owner_type == "system", ledger_accounts.c.owner_id == name
        )
        for account_id, total in _sums(
            conn, column, account_ids, sa.and_(posted, other.in_(system))
        ):
            expected[account_id][side] += sign * total  # type: ignore[operator]
    for column in (t.c.debit_account_id, t.c.credit_account_id):
        counts = conn.execute(
            sa.select(column, sa.func.count()).where(column.in_(account_ids)).group_by(column)
        ).all()
        for account_id, count in counts:
            expected[account_id]["transfer_count"] += count  # type: ignore[operator]
    _add_dropped_totals(conn, account_ids, expected)
    for row in accounts:
        e = expected[row["id"]]
        e["balance"] = (
            None
            if row["allow_overdraft"]
            else e["credits_posted"] - e["debits_posted"] - e["debits_pending"]  # type: ignore[operator]
        )
    return expected


def _add_dropped_totals(
    conn: Connection, account_ids: list[int], expected: dict[int, dict[str, int | None]]
) -> None:
    """What the transfers of dropped partitions added (ledger_dropped_totals, PostgreSQL's
    partitioned ledger_transfers): they are gone, their effect on each account is not."""
    d = ledger_dropped_totals
    for row in conn.execute(sa.select(d).where(d.c.account_id.in_(account_ids))).mappings():
        e: dict[str, Any] = expected[row["account_id"]]
        e["debits_posted"] += row["debits_posted"]
        e["credits_posted"] += row["credits_posted"]
        e["issued"] += row["issued_from"] - row["issued_back"]
        e["burned"] += row["burned_to"] - row["burned_back"]
        e["transfer_count"] += row["transfer_count"]


def _sums(
    conn: Connection, column: sa.ColumnElement[int], account_ids: list[int], condition: Any
) -> list[tuple[int, int]]:
    query = (
        sa.select(column, amount_sum(ledger_transfers.c.amount))
        .where(column.in_(account_ids), condition)
        .group_by(column)
    )
    return [(row[0], row[1]) for row in conn.execute(query)]


def _accounts_after(conn: Connection, last_id: int, *, lock: bool) -> list[dict[str, Any]]:
    query = (
        sa.select(ledger_accounts)
        .where(ledger_accounts.c.id > last_id)
        .order_by(ledger_accounts.c.id)
        .limit(ACCOUNTS_PER_CHUNK)
    )
    if lock:
        query = query.with_for_update()
    return [dict(row) for row in conn.execute(query).mappings()]


def _compare(row: dict[str, Any], expected: dict[str, int | None]) -> list[Difference]:
    name = f"{row['owner_type']}:{row['owner_id']}"
    return [
        Difference(row["id"], name, column, row[column], expected[column])
        for column in COUNTERS
        if row[column] != expected[column]
    ]


def _store(conn: Connection, account_id: int, expected: dict[str, int | None]) -> None:
    conn.execute(
        ledger_accounts.update()
        .where(ledger_accounts.c.id == account_id)
        .values(**expected, updated_at=utc_now())
    )


def _unbalanced_assets(conn: Connection) -> list[str]:
    """Double entry: per asset, posted credits equal posted debits, pending likewise."""
    a = ledger_accounts.c
    rows = conn.execute(
        sa.select(
            a.asset_id,
            amount_sum(a.debits_posted),
            amount_sum(a.credits_posted),
            amount_sum(a.debits_pending),
            amount_sum(a.credits_pending),
        ).group_by(a.asset_id)
    ).all()
    return [
        f"asset {asset_id}: debits {dp} + {dh} pending != credits {cp} + {ch} pending"
        for asset_id, dp, cp, dh, ch in rows
        if dp != cp or dh != ch
    ]


def _hold_problems(conn: Connection, *, repair: bool) -> list[str]:
    """ledger_holds must list exactly the pending transfers with no post or void."""
    t = ledger_transfers
    resolved = sa.select(t.c.pending_id).where(t.c.pending_id.is_not(None))
    open_pending = {
        row.id: row
        for row in conn.execute(
            sa.select(
                t.c.id, t.c.debit_account_id, t.c.credit_account_id, t.c.amount, t.c.expires_at
            ).where(t.c.phase == "pending", t.c.id.not_in(resolved))
        )
    }
    held = {row.transfer_id: row for row in conn.execute(sa.select(ledger_holds))}
    problems = [
        f"hold {i} is open but missing from ledger_holds"
        for i in sorted(open_pending.keys() - held.keys())
    ]
    problems += [
        f"ledger_holds lists {i}, which is not an open hold"
        for i in sorted(held.keys() - open_pending.keys())
    ]
    problems += [
        f"hold {i}: ledger_holds says {held[i].amount}, the transfer says {open_pending[i].amount}"
        for i in sorted(held.keys() & open_pending.keys())
        if held[i].amount != open_pending[i].amount
    ]
    if problems and repair:
        conn.execute(sa.delete(ledger_holds))
        rows = [
            {
                "transfer_id": i,
                "debit_account_id": r.debit_account_id,
                "credit_account_id": r.credit_account_id,
                "amount": r.amount,
                "expires_at": r.expires_at,
            }
            for i, r in open_pending.items()
        ]
        if rows:
            conn.execute(sa.insert(ledger_holds), rows)
    return problems


def repair_account(conn: Connection, account_id: int) -> dict[str, int | None]:
    """Recompute one account and store the result (seed: update_user_points_balance)."""
    row = (
        conn.execute(
            sa.select(ledger_accounts).where(ledger_accounts.c.id == account_id).with_for_update()
        )
        .mappings()
        .one()
    )
    expected = recompute(conn, [account_id], [dict(row)])[account_id]
    _store(conn, account_id, expected)
    return expected
