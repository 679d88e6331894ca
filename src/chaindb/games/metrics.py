"""Performance metrics (seed 002's V7): samples (name, value, labels, time), rolled up per
minute and per hour, and raw samples pruned past their retention once rolled up — the module's
`cleanup` hook (`chaindb maintenance --cleanup`) does both.

Values are measurements (latency, throughput), never money: a float is fit for them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from chaindb.database import Database, dialect_insert, reading, writing
from chaindb.errors import InvalidInput
from chaindb.games.schema import (
    LABELS_KEY_CHARS_MAX,
    METRIC_NAME_CHARS_MAX,
    performance_metric_rollups,
    performance_metrics,
)
from chaindb.text import identifier
from chaindb.types import UtcDatetime, utc_now
from chaindb.validation import Input, Row, parse_limit, validated

MetricName = identifier(METRIC_NAME_CHARS_MAX)
Resolution = Literal["minute", "hour"]
BUCKETS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}
RAW_RETENTION = timedelta(days=7)
SAMPLES_PER_ROLLUP_MAX = 5_000
ROLLUP_ROUNDS_MAX = 1_000  # a cleanup rolls up at most 5 million samples
PRUNED_PER_ROUND_MAX = 10_000
ROLLUPS_LIMIT_MAX = 10_000


class Rollup(Row):
    metric_name: str
    labels_key: str
    resolution: str
    bucket_start: datetime
    sample_count: int
    value_sum: float
    value_min: float
    value_max: float


class _Sample(Input):
    metric_name: MetricName
    value: Annotated[float, Field(allow_inf_nan=False)]
    labels: dict[str, str]
    recorded_at: UtcDatetime


def record_metric(
    target: Database | Connection,
    *,
    metric_name: str,
    value: float,
    labels: Mapping[str, str] | None = None,
    recorded_at: datetime | None = None,
) -> None:
    """One sample. Labels are text to text ({'peer': 'p1'}); a finite value."""
    sample = validated(
        _Sample,
        metric_name=metric_name,
        value=value,
        labels=dict(labels or {}),
        recorded_at=recorded_at or utc_now(),
    )
    key = labels_key(sample.labels)
    with writing(target) as conn:
        conn.execute(
            performance_metrics.insert().values(
                metric_name=sample.metric_name,
                value=sample.value,
                labels=sample.labels,
                labels_key=key,
                recorded_at=sample.recorded_at,
            )
        )


def labels_key(labels: Mapping[str, str]) -> str:
    """The labels as one canonical text (sorted keys): what rollups group by."""
    key = json.dumps(dict(labels), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(key) > LABELS_KEY_CHARS_MAX:
        raise InvalidInput("labels", labels, f"at most {LABELS_KEY_CHARS_MAX} characters as JSON")
    return key


def rollup_metrics(target: Database | Connection) -> int:
    """Fold up to SAMPLES_PER_ROLLUP_MAX samples not yet rolled up into their minute and hour
    buckets; returns how many. Each sample is counted once: it is marked in the same
    transaction (and locked while it is read, so a concurrent rollup skips it)."""
    m = performance_metrics.c
    with writing(target) as conn:
        samples = conn.execute(
            sa.select(m.id, m.metric_name, m.labels_key, m.value, m.recorded_at)
            .where(m.rolled_up.is_(False))
            .order_by(m.id)
            .limit(SAMPLES_PER_ROLLUP_MAX)
            .with_for_update()
        ).all()
        if not samples:
            return 0
        groups: dict[tuple[str, str, str, datetime], list[float]] = {}
        for sample in samples:
            for resolution, width in BUCKETS.items():
                start = _bucket_start(sample.recorded_at, width)
                key = (sample.metric_name, sample.labels_key, resolution, start)
                groups.setdefault(key, []).append(sample.value)
        for key, values in sorted(groups.items()):
            _add_to_bucket(conn, key, values)
        conn.execute(
            performance_metrics.update()
            .where(m.id.in_([sample.id for sample in samples]))
            .values(rolled_up=True)
        )
    return len(samples)


def prune_metrics(target: Database | Connection, *, older_than: datetime) -> int:
    """Delete rolled-up raw samples recorded before `older_than` (bounded per call)."""
    m = performance_metrics.c
    with writing(target) as conn:
        ids = (
            conn.execute(
                sa.select(m.id)
                .where(m.recorded_at < older_than, m.rolled_up.is_(True))
                .limit(PRUNED_PER_ROUND_MAX)
            )
            .scalars()
            .all()
        )
        if ids:
            conn.execute(performance_metrics.delete().where(m.id.in_(ids)))
    return len(ids)


def cleanup(db: Database, *, now: datetime | None = None) -> list[str]:
    """maintenance --cleanup: roll every sample up, then prune raw samples past RAW_RETENTION."""
    now = now or utc_now()
    rolled = pruned = 0
    for _ in range(ROLLUP_ROUNDS_MAX):
        done = rollup_metrics(db)
        rolled += done
        if done < SAMPLES_PER_ROLLUP_MAX:
            break
    for _ in range(ROLLUP_ROUNDS_MAX):
        done = prune_metrics(db, older_than=now - RAW_RETENTION)
        pruned += done
        if done < PRUNED_PER_ROUND_MAX:
            break
    return [
        f"games: rolled up {rolled} metric samples, pruned {pruned} past {RAW_RETENTION.days} days"
    ]


def get_rollups(
    target: Database | Connection,
    *,
    metric_name: str,
    resolution: Resolution = "minute",
    limit: int = 100,
) -> list[Rollup]:
    """A metric's buckets, oldest first (uq_metric_rollups_bucket's index)."""
    limit = parse_limit(limit, ROLLUPS_LIMIT_MAX)
    r = performance_metric_rollups.c
    with reading(target, stale_ok=True) as conn:
        rows = conn.execute(
            sa.select(performance_metric_rollups)
            .where(r.metric_name == metric_name, r.resolution == resolution)
            .order_by(r.bucket_start, r.labels_key)
            .limit(limit)
        )
        return [Rollup.model_validate(row) for row in rows]


def _bucket_start(at: datetime, width: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=at.tzinfo)
    return at - (at - epoch) % width


def _add_to_bucket(
    conn: Connection, key: tuple[str, str, str, datetime], values: list[float]
) -> None:
    name, labels, resolution, start = key
    r = performance_metric_rollups.c
    conn.execute(
        dialect_insert(conn, performance_metric_rollups)
        .values(
            metric_name=name, labels_key=labels, resolution=resolution, bucket_start=start,
            sample_count=len(values), value_sum=math.fsum(values),
            value_min=min(values), value_max=max(values),
        )
        .on_conflict_do_update(
            index_elements=["metric_name", "labels_key", "resolution", "bucket_start"],
            set_={
                "sample_count": r.sample_count + len(values),
                "value_sum": r.value_sum + math.fsum(values),
                "value_min": sa.func.least(r.value_min, min(values))
                if conn.dialect.name == "postgresql"
                else sa.func.min(r.value_min, min(values)),
                "value_max": sa.func.greatest(r.value_max, max(values))
                if conn.dialect.name == "postgresql"
                else sa.func.max(r.value_max, max(values)),
            },
        )
    )  # fmt: skip
