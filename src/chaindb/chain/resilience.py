"""RPC calls that survive a flaky node (retry logic, circuit breaker).

Every call goes through one `Resilience`: errors are classified; network errors are retried with
exponential backoff 2, 4, 8, 16, 30 s (capped, with jitter; tenacity), each retry logged as one
line (logger 'chaindb.chain': node, cause, next delay); execution errors (a revert) are never
retried; repeated failures open a circuit breaker (pybreaker) so callers fail fast until a probe
succeeds. When the node cannot be reached, the error (ChainUnavailable) names it and the cause.
A node's URL is shown masked everywhere: its password, query values and key-like path
segments (Infura's /v3/KEY) become ***.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pybreaker
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
    wait_random,
)
from web3.exceptions import (
    BlockNotFound,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)

from chaindb.config import mask_text
from chaindb.errors import ChaindbError

T = TypeVar("T")
log = logging.getLogger("chaindb.chain")
GAS_BUMP_PERCENT = 20  # a replacement must outbid the original; nodes ask for >= 10 %


class ErrorKind(Enum):
    NETWORK = "network"  # the node did not answer: retry
    NONCE = "nonce"  # nonce too low / already known / replacement underpriced
    GAS = "gas"  # out of gas, fee too low, funds for gas
    EXECUTION = "execution"  # the EVM reverted: never retried
    NOT_FOUND = "not_found"  # the node answered: no such transaction or block (not an outage)


class ChainUnavailable(ChaindbError):
    """The node kept failing; the circuit breaker is open or the retries ran out."""


class _RetriesStopped(Exception):
    """The interrupt was set while waiting to retry."""


_NONCE_WORDS = ("nonce too low", "already known", "replacement transaction underpriced", "nonce")
_GAS_WORDS = ("gas", "fee", "insufficient funds")


def classify(error: BaseException) -> ErrorKind:
    if isinstance(error, ChainUnavailable):
        return ErrorKind.NETWORK
    if isinstance(error, TransactionNotFound | BlockNotFound):
        return ErrorKind.NOT_FOUND
    if isinstance(error, ContractLogicError):
        return ErrorKind.EXECUTION
    if isinstance(
        error, requests.RequestException | ConnectionError | TimeoutError | TimeExhausted
    ):
        return ErrorKind.NETWORK
    text = str(error).lower()
    if "revert" in text or "execution" in text:
        return ErrorKind.EXECUTION
    if any(word in text for word in _NONCE_WORDS):
        return ErrorKind.NONCE
    if any(word in text for word in _GAS_WORDS):
        return ErrorKind.GAS
    if isinstance(error, Web3RPCError):
        return ErrorKind.NETWORK  # a server-side error without a known cause: try again
    return ErrorKind.EXECUTION


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff first_wait_s, doubling, capped at max_wait_s, plus up to jitter_s of noise."""

    first_wait_s: float = 2.0
    max_wait_s: float = 30.0
    jitter_s: float = 1.0
    attempts_max: int = 6  # the first try and five retries: 2, 4, 8, 16, 30 s

    def wait(self) -> Any:
        """tenacity's wait: first_wait_s doubling up to max_wait_s, plus random jitter."""
        return wait_exponential(
            multiplier=self.first_wait_s, min=self.first_wait_s, max=self.max_wait_s
        ) + wait_random(0, self.jitter_s)

    def schedule_s(self) -> list[float]:
        """The waits between attempts, before jitter."""
        return [
            min(self.first_wait_s * 2**n, self.max_wait_s) for n in range(self.attempts_max - 1)
        ]


def bump_gas(transaction: dict[str, Any]) -> dict[str, Any]:
    """The same transaction priced GAS_BUMP_PERCENT higher, to replace it at the same nonce."""
    bumped = dict(transaction)
    for field in ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"):
        if field in bumped:
            bumped[field] = math.ceil(bumped[field] * (100 + GAS_BUMP_PERCENT) / 100)
    return bumped


class Resilience:
    """Retries and a circuit breaker around every call to one node (`node_url`, shown masked)."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        failures_to_open: int = 5,
        reset_timeout_s: float = 30.0,
        node_url: str | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=failures_to_open,
            reset_timeout=reset_timeout_s,
            # Only an unreachable node counts against the breaker; a revert is the node working.
            exclude=[lambda error: classify(error) != ErrorKind.NETWORK],
        )
        self.node_url = node_url
        # Set (by a stopping watch): a retry's sleep ends at once and no retry follows.
        self.interrupt: threading.Event | None = None
        self._last_cause = "no answer"
        self._attempts_failed = 0

    @property
    def node_url(self) -> str | None:
        return self._node_url

    @node_url.setter
    def node_url(self, url: str | None) -> None:
        self._node_url = url
        self.node = f"the node at {mask_rpc_url(url)}" if url else "the node"
        self.masked: Callable[[str], str] = rpc_url_masker(url) if url else str

    @property
    def state(self) -> str:
        """'closed', 'open' or 'half-open'."""
        return str(self.breaker.current_state)

    def call(self, action: Callable[[], T], *, retry: bool = True) -> T:
        stop = stop_after_attempt(self.policy.attempts_max)
        if self.interrupt is not None:
            stop = stop | stop_when_event_set(self.interrupt)
        retrying = Retrying(
            retry=retry_if_exception(
                lambda e: (
                    retry
                    and classify(e) == ErrorKind.NETWORK
                    and not isinstance(e, pybreaker.CircuitBreakerError)
                )
            ),
            wait=self.policy.wait(),
            stop=stop,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self.breaker.call, action)
        except _RetriesStopped:
            attempts = self._attempts_failed
            raise ChainUnavailable(
                f"{self.node} did not answer: {self._last_cause} ({attempts} "
                f"attempt{'s' * (attempts != 1)}, then the retries were stopped)"
            ) from None
        except pybreaker.CircuitBreakerError as error:
            if error.__context__ is not None:  # this call's failure opened it
                self._last_cause = self.describe(error.__context__)
            raise ChainUnavailable(
                f"{self.node} failed {self.breaker.fail_max} times in a row (last: "
                f"{self._last_cause}): circuit open, next probe in up to "
                f"{self.breaker.reset_timeout:g} s"
            ) from error
        except Exception as error:
            if classify(error) != ErrorKind.NETWORK or isinstance(error, ChainUnavailable):
                raise
            self._last_cause = self.describe(error)
            attempts = retrying.statistics.get("attempt_number", 1)
            raise ChainUnavailable(
                f"{self.node} did not answer: {self._last_cause} "
                f"({attempts} attempt{'s' * (attempts != 1)})"
            ) from error

    def _sleep(self, seconds: float) -> None:
        """Wait before a retry; an interrupt ends the wait, and the retries with it."""
        if self.interrupt is None:
            time.sleep(seconds)
        elif self.interrupt.wait(seconds):
            raise _RetriesStopped

    def describe(self, error: BaseException) -> str:
        """The cause of a failed call in a few words, the node's secrets masked."""
        return self.masked(describe_cause(error))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if error is not None:
            self._last_cause = self.describe(error)
        self._attempts_failed = state.attempt_number
        log.warning(
            "%s failed (%s): retry %d of %d in %.3g s",
            self.node,
            self._last_cause,
            state.attempt_number,
            self.policy.attempts_max - 1,
            state.next_action.sleep if state.next_action else 0.0,
        )


CAUSE_CHARS_MAX = 160
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\"')]+)")
_KEY_LIKE_SEGMENT = re.compile(r"^[A-Za-z0-9_\-]{16,}$")  # API keys in paths: Infura, Alchemy
_QUERY_SECRET_CHARS_MIN = 4  # shorter query values (?chain=1) are masked in the URL shown only


def describe_cause(error: BaseException) -> str:
    """What went wrong, in a few words: 'HTTP 503 Service Unavailable', 'Connection refused'."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason}".strip()
    if isinstance(error, requests.Timeout):
        return f"no answer in time ({type(error).__name__})"
    text = str(error)
    if isinstance(error, requests.ConnectionError | ConnectionError):
        errno = _ERRNO.search(text)
        if errno:
            return errno.group(1).strip()
    first_line = (text.splitlines() or [""])[0]
    described = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
    if len(described) > CAUSE_CHARS_MAX:
        described = described[: CAUSE_CHARS_MAX - 3] + "..."
    return described


def mask_rpc_url(url: str) -> str:
    """The node URL as it may be shown: its password, query values and key-like path segments
    (Infura's /v3/KEY, Alchemy's /v2/KEY) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    path = "/".join("***" if _KEY_LIKE_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(f"{name}=***" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def rpc_url_masker(url: str) -> Callable[[str], str]:
    """A function that masks, in free text (an HTTP library's error), whatever of `url` is
    secret: the URL whole or in the pieces such errors quote, then any secret left alone."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    path_query = parts.path + (f"?{parts.query}" if parts.query else "")
    pieces = [
        urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, "")),
        urlunsplit((parts.scheme, host, parts.path, parts.query, "")),
        path_query,
    ]
    replacements = {piece: mask_rpc_url(piece) for piece in pieces if len(piece) > 1}
    ordered = sorted(replacements.items(), key=lambda item: len(item[0]), reverse=True)
    secrets = [parts.password or ""]
    secrets += [
        value for _, value in parse_qsl(parts.query) if len(value) >= _QUERY_SECRET_CHARS_MIN
    ]
    secrets += [seg for seg in parts.path.split("/") if _KEY_LIKE_SEGMENT.match(seg)]

    def mask(text: str) -> str:
        for raw, shown in ordered:
            text = text.replace(raw, shown)
        for secret in filter(None, secrets):  # as a whole word: a short one must not garble
            text = mask_text(text, secret)
        return text

    return mask
