"""Sync health from the oracle's log, judged by the seed's thresholds, and the command that
exits non-zero on a warning or a critical state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chaindb import InvalidInput, creators
from chaindb.creators.sync_log import log_attempt
from tests.conftest import run_cli

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def attempt(db, status, minutes_ago, *, duration_ms=1_000, error_class=None):
    log_attempt(
        db,
        operation="UPDATE_METRICS",
        status=status,
        chain_id="eip155:314",
        creator_id=None,
        attempt=1,
        started_at=NOW - timedelta(minutes=minutes_ago),
        duration_ms=duration_ms,
        error_class=error_class,
    )


def test_a_healthy_sync(core_db):
    for minutes in range(0, 24 * 60, 60):  # hourly, all succeeded
        attempt(core_db, "SUCCESS", minutes)
    stats = creators.get_sync_stats(core_db, 24, now=NOW)
    assert (stats.succeeded, stats.failed, stats.success_rate) == (24, 0, 1.0)
    assert (stats.health, stats.problems, stats.longest_gap_s) == ("ok", [], 3600)
    assert stats.average_response_s == 1.0


def test_each_threshold_of_the_seed(core_db):
    for minutes in range(8):
        attempt(core_db, "SUCCESS", 600 + minutes)  # 10 h ago: then nothing succeeded
    for minutes in range(2):
        attempt(core_db, "FAILED", 30 + minutes, error_class="network", duration_ms=40_000)
    stats = creators.get_sync_stats(core_db, 24, now=NOW)
    assert (stats.success_rate, stats.average_response_s) == (0.8, 8.8)
    assert (stats.health, stats.problems) == (
        "warning",
        ["success rate 80.0% is below 90 %", "10.0 h without a successful sync (over 2 h)"],
    )
    for minutes in range(10):
        attempt(core_db, "FAILED", 5 + minutes, error_class="gas")
    stats = creators.get_sync_stats(core_db, 24, now=NOW)
    assert stats.success_rate == 0.4 and stats.health == "critical"
    assert "success rate 40.0% is below 70 %" in stats.problems
    assert "12 failed in one hour (10 or more)" in stats.problems


def test_slow_responses_warn(core_db):
    attempt(core_db, "SUCCESS", 10, duration_ms=31_000)
    stats = creators.get_sync_stats(core_db, 1, now=NOW)
    assert stats.problems == ["average response 31 s (30 s+)"]


def test_hours_must_be_a_positive_number(core_db):
    with pytest.raises(InvalidInput, match="hours"):
        creators.get_sync_stats(core_db, 0)


def test_the_command_exits_non_zero_on_a_warning(core_db, db_url):
    ok = run_cli("creators", "sync-stats", "--hours", "24", "--json", env={"CHAINDB_URL": db_url})
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["health"] == "ok"
    now = datetime.now(UTC)
    for minutes in range(3):
        log_attempt(
            core_db,
            operation="UPDATE_METRICS",
            status="FAILED",
            chain_id="eip155:314",
            creator_id=None,
            attempt=1,
            started_at=now - timedelta(minutes=minutes),
            duration_ms=5,
            error_class="network",
        )
    critical = run_cli("creators", "sync-stats", "--hours", "24", env={"CHAINDB_URL": db_url})
    assert critical.returncode == 2
    assert "critical" in critical.stdout and "success rate 0.0% is below 70 %" in critical.stdout
