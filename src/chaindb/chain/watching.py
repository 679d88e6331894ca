"""Run the tracker (and the escrow's event ingestion) until told to stop.

Before the first pass the node is checked against the chain the database follows (chain.pins):
another chain is refused, and nothing changes. SIGINT and SIGTERM do not interrupt a pass: the
current pass finishes, its changes commit, and the loop ends with a summary. Only a pass that
is waiting to retry an unreachable node is cut short (each of its transactions' changes
committed on their own, so nothing is lost; the next run carries on).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from chaindb.chain.client import Chain
from chaindb.chain.events import IngestReport, evm_address, ingest_escrow_events
from chaindb.chain.pins import require_followed_chain
from chaindb.chain.resilience import ChainUnavailable
from chaindb.chain.tracker import Progress, TrackReport, track
from chaindb.database import Database
from chaindb.errors import InvalidInput
from chaindb.stopping import SignalStop

PassCallback = Callable[[int, TrackReport, IngestReport | None], None]


@dataclass
class WatchSummary:
    chain_id: str
    genesis_hash: str
    node: str  # its URL masked
    passes: int = 0
    seconds: float = 0.0
    totals: TrackReport = field(default_factory=TrackReport)
    events_ingested: int = 0
    events_projected: int = 0
    stopped_by: str | None = None  # 'pass limit', 'stop event' or the signal's name
    cut_short: str | None = None  # why the pass running when the stop came did not finish

    def __str__(self) -> str:
        cut_short = f"; a pass was cut short: {self.cut_short}" if self.cut_short else ""
        return (
            f"watched {self.passes} passes in {self.seconds:.1f} s (stopped by {self.stopped_by}): "
            f"{self.totals}; events +{self.events_ingested} ingested, "
            f"{self.events_projected} projected{cut_short}"
        )

    def as_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        fields["tracked"] = fields.pop("totals")
        return {**fields, "seconds": round(self.seconds, 3)}


def watch(
    db: Database,
    chain: Chain,
    *,
    interval_s: float = 2.0,
    passes_max: int | None = None,
    escrow_address: str | None = None,
    dropped_after_s: float | None = None,
    on_pass: PassCallback | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> WatchSummary:
    """Track (and ingest `escrow_address`'s events) every `interval_s` seconds, until
    `passes_max` passes, `stop` or SIGINT/SIGTERM. Refuses a node of another chain first."""
    _check_limits(interval_s=interval_s, passes_max=passes_max, dropped_after_s=dropped_after_s)
    escrow = None if escrow_address is None else evm_address(escrow_address, "escrow_address")
    require_followed_chain(db, chain, new_chain_ok=escrow is not None)
    stop = stop or threading.Event()
    summary = WatchSummary(chain.chain_id, chain.genesis_hash, chain.node)
    started = time.monotonic()
    with _stop_on_signals(stop, summary), _retries_end_on(stop, chain):
        while _keep_going(stop, summary, passes_max):
            try:
                report = track(db, chain, dropped_after_s=dropped_after_s, progress=progress)
                events = ingest_escrow_events(db, chain, escrow_address=escrow) if escrow else None
            except ChainUnavailable as error:
                if not _keep_going(stop, summary, passes_max):
                    summary.cut_short = str(error)  # the stop ended its retries
                    break
                raise
            _count(summary, report, events)
            if on_pass is not None:
                on_pass(summary.passes, report, events)
            if _keep_going(stop, summary, passes_max):
                stop.wait(interval_s)
    summary.seconds = time.monotonic() - started
    return summary


def _check_limits(
    *, interval_s: float, passes_max: int | None, dropped_after_s: float | None
) -> None:
    if not (math.isfinite(interval_s) and interval_s >= 0):
        raise InvalidInput("interval_s", interval_s, "must be a number of seconds >= 0")
    if passes_max is not None and passes_max < 1:
        raise InvalidInput("passes_max", passes_max, "must be a whole number >= 1")
    if dropped_after_s is not None and not (
        math.isfinite(dropped_after_s) and dropped_after_s >= 0
    ):
        raise InvalidInput("dropped_after_s", dropped_after_s, "must be a number of seconds >= 0")


def _count(summary: WatchSummary, report: TrackReport, events: IngestReport | None) -> None:
    summary.passes += 1
    summary.totals.add(report)
    if events is not None:
        summary.events_ingested += events.ingested
        summary.events_projected += events.projected


def _keep_going(stop: threading.Event, summary: WatchSummary, passes_max: int | None) -> bool:
    """Whether another pass runs; when not, summary.stopped_by says why."""
    if summary.stopped_by is None and stop.is_set():
        summary.stopped_by = "stop event"
    if summary.stopped_by is None and passes_max is not None and summary.passes >= passes_max:
        summary.stopped_by = "pass limit"
    return summary.stopped_by is None


@contextmanager
def _retries_end_on(stop: threading.Event, chain: Chain) -> Iterator[None]:
    """While watching, a stop ends a retry's sleep at once (a node down would hold the pass
    for up to a minute of backoff)."""
    previous = chain.resilience.interrupt
    chain.resilience.interrupt = stop
    try:
        yield
    finally:
        chain.resilience.interrupt = previous


def _stop_on_signals(stop: threading.Event, summary: WatchSummary) -> SignalStop:
    """Let SIGINT/SIGTERM end the loop after the current pass (main thread only)."""

    def note(signum: int) -> None:
        summary.stopped_by = signal.Signals(signum).name  # the loop reads it before a new pass

    return SignalStop(stop, on_signal=note)
