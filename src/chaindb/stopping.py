"""Ending a long-running loop from SIGINT/SIGTERM without deadlocking it."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalStop:
    """While entered, SIGINT and SIGTERM set `stop` (a threading.Event), through a pipe and a
    thread of its own; `on_signal(signum)` is called first, in the handler. Off the main thread
    (where Python allows no handler) it does nothing.

    A handler runs on the main thread between two bytecodes, possibly while that thread holds
    the event's lock (inside stop.wait: seen, a SIGTERM test's command hung there) or
    threading's own (inside Thread.start): a handler that set the event, or started a thread
    to, could wait for that lock forever. This one only writes a byte; the relay thread,
    started beforehand, sets the event."""

    def __init__(
        self, stop: threading.Event, *, on_signal: Callable[[int], None] | None = None
    ) -> None:
        self.stop = stop
        self._on_signal = on_signal
        self._previous: dict[int, Any] = {}
        self._pipe: tuple[int, int] | None = None
        self._relay: threading.Thread | None = None

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is not threading.main_thread():
            return self
        self._pipe = os.pipe()
        self._relay = threading.Thread(target=self._relay_signals, name="signal-stop", daemon=True)
        self._relay.start()
        self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pipe is None or self._relay is None:
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        read_end, write_end = self._pipe
        os.close(write_end)  # the relay reads the end of the pipe, and leaves
        self._relay.join()
        os.close(read_end)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._on_signal is not None:
            self._on_signal(signum)
        assert self._pipe is not None
        os.write(self._pipe[1], b"\0")

    def _relay_signals(self) -> None:
        assert self._pipe is not None
        while os.read(self._pipe[0], 1):
            self.stop.set()
