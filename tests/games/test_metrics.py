"""Performance metrics: samples rolled up per minute and hour once each, raw samples pruned
past retention through the module's cleanup hook (maintenance --cleanup)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chaindb import InvalidInput
from chaindb.games import cleanup, get_rollups, record_metric, rollup_metrics
from chaindb.ops import maintenance

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def raw_samples(db) -> int:
    with db.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM performance_metrics")).scalar_one()


def test_samples_roll_up_per_minute_and_hour_once(core_db):
    for seconds, value in ((1, 10.0), (30, 20.0), (61, 5.0)):
        record_metric(
            core_db, metric_name="bet_latency_ms", value=value, labels={"backend": "x"},
            recorded_at=T0 + timedelta(seconds=seconds),
        )  # fmt: skip
    assert rollup_metrics(core_db) == 3
    assert rollup_metrics(core_db) == 0  # each sample counted once
    minutes = get_rollups(core_db, metric_name="bet_latency_ms", resolution="minute")
    assert [(m.bucket_start, m.sample_count, m.value_sum, m.value_min, m.value_max)
            for m in minutes] == [
        (T0, 2, 30.0, 10.0, 20.0), (T0 + timedelta(minutes=1), 1, 5.0, 5.0, 5.0),
    ]  # fmt: skip
    record_metric(
        core_db, metric_name="bet_latency_ms", value=1.0, labels={"backend": "x"},
        recorded_at=T0 + timedelta(minutes=59),
    )  # fmt: skip
    rollup_metrics(core_db)
    (hour,) = get_rollups(core_db, metric_name="bet_latency_ms", resolution="hour")
    assert (hour.sample_count, hour.value_sum, hour.value_min, hour.value_max) == (
        4,
        36.0,
        1.0,
        20.0,
    )


def test_cleanup_prunes_raw_samples_past_retention_keeping_rollups(core_db):
    record_metric(core_db, metric_name="m", value=1.0, recorded_at=T0)
    record_metric(core_db, metric_name="m", value=2.0, recorded_at=T0 + timedelta(days=8))
    report = cleanup(core_db, now=T0 + timedelta(days=8, minutes=1))
    assert report == ["games: rolled up 2 metric samples, pruned 1 past 7 days"]
    assert raw_samples(core_db) == 1
    assert [r.sample_count for r in get_rollups(core_db, metric_name="m", resolution="hour")] == [
        1,
        1,
    ]


def test_maintenance_cleanup_runs_the_games_hook(core_db):
    record_metric(core_db, metric_name="m", value=1.0)
    report = maintenance.run_maintenance(core_db, cleanup=True, check=True)
    assert any(line.startswith("games: rolled up 1 metric samples") for line in report.done)
    assert "games" in report.checked and report.ok
    assert get_rollups(core_db, metric_name="m")[0].sample_count == 1


@pytest.mark.parametrize(
    ("field", "value"), [("value", math.nan), ("value", math.inf), ("metric_name", "")]
)
def test_bad_samples_are_refused(core_db, field, value):
    sample = {"metric_name": "m", "value": 1.0}
    with pytest.raises(InvalidInput) as refused:
        record_metric(core_db, **{**sample, field: value})
    assert refused.value.field == field
    assert raw_samples(core_db) == 0
