"""RPC calls that survive a flaky node (seed 004: retry logic, circuit breaker).

Every call goes through one `Resilience`: errors are classified; network errors are retried with
exponential backoff 2, 4, 8, 16, 30 s (capped, with jitter; tenacity); execution errors (a
revert) are never retried; repeated failures open a circuit breaker (pybreaker) so callers fail
fast until a probe succeeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import pybreaker
import requests
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
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

from chaindb.errors import ChaindbError

T = TypeVar("T")
GAS_BUMP_PERCENT = 20  # a replacement must outbid the original; nodes ask for >= 10 %


class ErrorKind(Enum):
    NETWORK = "network"  # the node did not answer: retry
    NONCE = "nonce"  # nonce too low / already known / replacement underpriced
    GAS = "gas"  # out of gas, fee too low, funds for gas
    EXECUTION = "execution"  # the EVM reverted: never retried
    NOT_FOUND = "not_found"  # the node answered: no such transaction or block (not an outage)


class ChainUnavailable(ChaindbError):
    """The node kept failing; the circuit breaker is open or the retries ran out."""


_NONCE_WORDS = ("nonce too low", "already known", "replacement transaction underpriced", "nonce")
_GAS_WORDS = ("gas", "fee", "insufficient funds")


def classify(error: BaseException) -> ErrorKind:
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
    """Retries and a circuit breaker around every call to one node."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        failures_to_open: int = 5,
        reset_timeout_s: float = 30.0,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=failures_to_open,
            reset_timeout=reset_timeout_s,
            # Only an unreachable node counts against the breaker; a revert is the node working.
            exclude=[lambda error: classify(error) != ErrorKind.NETWORK],
        )

    @property
    def state(self) -> str:
        """'closed', 'open' or 'half-open'."""
        return str(self.breaker.current_state)

    def call(self, action: Callable[[], T], *, retry: bool = True) -> T:
        retrying = Retrying(
            retry=retry_if_exception(
                lambda e: (
                    retry
                    and classify(e) == ErrorKind.NETWORK
                    and not isinstance(e, pybreaker.CircuitBreakerError)
                )
            ),
            wait=self.policy.wait(),
            stop=stop_after_attempt(self.policy.attempts_max),
            reraise=True,
        )
        try:
            return retrying(self.breaker.call, action)
        except pybreaker.CircuitBreakerError as error:
            raise ChainUnavailable(
                f"the node failed {self.breaker.fail_max} times in a row: circuit open, "
                f"next probe in up to {self.breaker.reset_timeout:g} s"
            ) from error
