"""Run the tracker (and the escrow's event ingestion) until told to stop.

SIGINT and SIGTERM do not interrupt a pass: the current pass finishes, its changes commit, and
the loop ends with a summary.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chaindb.chain.client import Chain
from chaindb.chain.events import IngestReport, ingest_escrow_events
from chaindb.chain.tracker import TrackReport, track
from chaindb.database import Database

PassCallback = Callable[[int, TrackReport, IngestReport | None], None]


@dataclass
class WatchSummary:
    passes: int = 0
    seconds: float = 0.0
    totals: TrackReport = field(default_factory=TrackReport)
    events_ingested: int = 0
    events_projected: int = 0
    stopped_by: str | None = None  # 'pass limit', 'stop event' or the signal's name

    def __str__(self) -> str:
        return (
            f"watched {self.passes} passes in {self.seconds:.1f} s (stopped by {self.stopped_by}): "
            f"{self.totals}; events +{self.events_ingested} ingested, "
            f"{self.events_projected} projected"
        )


def watch(
    db: Database,
    chain: Chain,
    *,
    interval_s: float = 2.0,
    passes_max: int | None = None,
    escrow_address: str | None = None,
    dropped_after_s: float | None = None,
    on_pass: PassCallback | None = None,
    stop: threading.Event | None = None,
) -> WatchSummary:
    stop = stop or threading.Event()
    summary = WatchSummary()
    started = time.monotonic()
    with _stop_on_signals(stop, summary):
        while _keep_going(stop, summary, passes_max):
            report = track(db, chain, dropped_after_s=dropped_after_s)
            events = (
                ingest_escrow_events(db, chain, escrow_address=escrow_address)
                if escrow_address
                else None
            )
            summary.passes += 1
            summary.totals.add(report)
            if events is not None:
                summary.events_ingested += events.ingested
                summary.events_projected += events.projected
            if on_pass is not None:
                on_pass(summary.passes, report, events)
            if _keep_going(stop, summary, passes_max):
                stop.wait(interval_s)
    summary.seconds = time.monotonic() - started
    return summary


def _keep_going(stop: threading.Event, summary: WatchSummary, passes_max: int | None) -> bool:
    """Whether another pass runs; when not, summary.stopped_by says why."""
    if summary.stopped_by is None and stop.is_set():
        summary.stopped_by = "stop event"
    if summary.stopped_by is None and passes_max is not None and summary.passes >= passes_max:
        summary.stopped_by = "pass limit"
    return summary.stopped_by is None


@contextmanager
def _stop_on_signals(stop: threading.Event, summary: WatchSummary) -> Iterator[None]:
    """Let SIGINT/SIGTERM end the loop after the current pass (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, _frame: Any) -> None:
        summary.stopped_by = signal.Signals(signum).name  # the loop reads it before a new pass
        # The handler runs on the loop's own thread, possibly while the loop holds the event's
        # lock (inside stop.wait): Event.set here would wait for that lock forever. A thread of
        # its own takes the lock once the loop lets go of it, and ends the wait.
        threading.Thread(target=stop.set, name="watch-stop", daemon=True).start()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
