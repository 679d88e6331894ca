"""Ending a long-running loop from SIGINT/SIGTERM without deadlocking it."""

from __future__ import annotations

import signal
import threading


def set_from_handler(stop: threading.Event) -> None:
    """Set `stop` from a signal handler. The handler runs on the main thread, possibly while
    that thread holds the event's lock (inside stop.wait): Event.set there would wait for the
    lock forever. A thread of its own takes the lock once the loop lets go, and ends the wait."""
    threading.Thread(target=stop.set, name="signal-stop", daemon=True).start()


def stop_on_signals(stop: threading.Event) -> None:
    """SIGINT and SIGTERM set `stop` (call on the main thread, as commands do)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: set_from_handler(stop))
