"""Sync health (seed 004's "Monitoring & Health"), from oracle_sync_logs:

| metric | warning | critical |
|---|---|---|
| success rate (SUCCESS over SUCCESS + FAILED operations) | below 90 % | below 70 % |
| failed transactions in the worst hour | 10 or more | |
| average response time of an attempt | 30 s or more | |
| longest gap between successful syncs (and since the last one) | over 2 h | |

Read through the index on started_at; at most ROWS_MAX attempts of the window are looked at.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from chaindb.creators.schema import oracle_sync_logs as logs
from chaindb.database import Database
from chaindb.errors import InvalidInput
from chaindb.types import utc_now

SUCCESS_RATE_WARNING = 0.90
SUCCESS_RATE_CRITICAL = 0.70
FAILED_PER_HOUR_MAX = 10
RESPONSE_S_MAX = 30
SYNC_GAP_MAX = timedelta(hours=2)
HOURS_MAX = 24 * 366
ROWS_MAX = 1_000_000
Health = Literal["ok", "warning", "critical"]


@dataclass
class SyncStats:
    hours: float
    attempts: int
    succeeded: int
    failed: int
    pending: int
    success_rate: float | None  # None: nothing settled in the window
    failed_worst_hour: int
    average_response_s: float | None
    longest_gap_s: float | None  # None: no successful sync in the window
    health: Health = "ok"
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def get_sync_stats(db: Database, hours: float = 24, *, now: datetime | None = None) -> SyncStats:
    """The seed's getSyncStats(hours), with its thresholds judged (health, problems)."""
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= HOURS_MAX:
        raise InvalidInput(
            "hours", hours, f"must be a number of hours above 0, at most {HOURS_MAX}"
        )
    now = now or utc_now()
    since = now - timedelta(hours=hours)
    with db.read() as conn:
        rows = conn.execute(
            sa.select(logs.c.status, logs.c.started_at, logs.c.duration_ms)
            .where(logs.c.started_at >= since)
            .order_by(logs.c.started_at)
            .limit(ROWS_MAX)
        ).all()
    by_status = {status: [r for r in rows if r.status == status] for status in _STATUSES}
    succeeded, failed = len(by_status["SUCCESS"]), len(by_status["FAILED"])
    settled = succeeded + failed
    stats = SyncStats(
        hours=hours,
        attempts=len(rows),
        succeeded=succeeded,
        failed=failed,
        pending=len(by_status["PENDING"]),
        success_rate=round(succeeded / settled, 4) if settled else None,
        failed_worst_hour=_worst_hour([r.started_at for r in by_status["FAILED"]]),
        average_response_s=(
            round(sum(r.duration_ms for r in rows) / len(rows) / 1000, 3) if rows else None
        ),
        longest_gap_s=_longest_gap([r.started_at for r in by_status["SUCCESS"]], now),
    )
    _judge(stats)
    return stats


_STATUSES = ("PENDING", "SUCCESS", "FAILED", "RETRY")


def _worst_hour(times: list[datetime]) -> int:
    buckets: dict[datetime, int] = {}
    for moment in times:
        hour = moment.replace(minute=0, second=0, microsecond=0)
        buckets[hour] = buckets.get(hour, 0) + 1
    return max(buckets.values(), default=0)


def _longest_gap(times: list[datetime], now: datetime) -> float | None:
    if not times:
        return None
    moments = [*times, now]
    return max((b - a).total_seconds() for a, b in itertools.pairwise(moments))


def _judge(stats: SyncStats) -> None:
    problems: list[tuple[Health, str]] = []
    rate = stats.success_rate
    if rate is not None and rate < SUCCESS_RATE_CRITICAL:
        problems.append(("critical", f"success rate {rate:.1%} is below 70 %"))
    elif rate is not None and rate < SUCCESS_RATE_WARNING:
        problems.append(("warning", f"success rate {rate:.1%} is below 90 %"))
    if stats.failed_worst_hour >= FAILED_PER_HOUR_MAX:
        problems.append(("warning", f"{stats.failed_worst_hour} failed in one hour (10 or more)"))
    if stats.average_response_s is not None and stats.average_response_s >= RESPONSE_S_MAX:
        problems.append(("warning", f"average response {stats.average_response_s:g} s (30 s+)"))
    gap = stats.longest_gap_s
    if gap is None and stats.attempts:
        problems.append(("warning", f"no successful sync in {stats.hours:g} h"))
    elif gap is not None and gap > SYNC_GAP_MAX.total_seconds():
        problems.append(("warning", f"{gap / 3600:.1f} h without a successful sync (over 2 h)"))
    stats.problems = [text for _, text in problems]
    levels = {level for level, _ in problems}
    stats.health = "critical" if "critical" in levels else "warning" if levels else "ok"
