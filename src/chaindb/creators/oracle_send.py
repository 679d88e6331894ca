"""Send one oracle transaction, retrying what can be retried, each attempt logged.

The chain bridge's own resilience (chain's face: Resilience, RetryPolicy, classify,
ChainUnavailable) already retries every RPC call that meets a network error (2, 4, 8, 16, 30 s,
with jitter) and opens its circuit breaker after failures in a row. On top of it, an oracle
operation is retried as a whole, on the same RetryPolicy's schedule (tenacity), when:
- gas: the node refused the fees (below the base fee, or an underpriced replacement): the same
  transaction, at the same nonce, is sent again dearer: +fee_bump_percent (the seed's 20 %),
  or more where the node's replacement rule demands it (geth: +10 % on both fees; Filecoin
  Lotus: the priority fee x 1.25 + 1, which +20 % does not meet);
- nonce: the nonce was taken: the next one the node expects is used;
- network: the node stayed unreachable through the bridge's own retries: the same signed
  transaction again (the same hash: logged once).
A revert (execution) is never retried. An open circuit breaker ends the pass: the sync pauses
until the node answers again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Connection
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_when_event_set

from chaindb import chain, core
from chaindb.creators.sync_log import Operation, log_attempt
from chaindb.database import Database
from chaindb.errors import ChaindbError
from chaindb.types import utc_now

FEE_FIELDS = ("maxFeePerGas", "maxPriorityFeePerGas")
DEFAULT_FEE_BUMP_PERCENT = 20


@dataclass(frozen=True)
class ReplacementRule:
    """The least a node accepts to replace a pending transaction: each fee x (1 + percent/100)
    + plus_wei."""

    percent_min: int
    plus_wei: int = 0


REPLACEMENT_RULES = {
    "geth": ReplacementRule(10),  # core/txpool/legacypool: PriceBump 10, both fee fields
    "lotus": ReplacementRule(25, 1),  # chain/messagepool: GasPremium >= old x 1.25 + 1
}
NodeKind = Literal["geth", "lotus"]


class SyncPaused(ChaindbError):
    """The chain bridge's circuit breaker is open: the oracle sync pauses."""


def bumped_fees(
    fees: dict[str, int], *, percent: int = DEFAULT_FEE_BUMP_PERCENT, node: NodeKind = "geth"
) -> dict[str, int]:
    """The fees of a resend: each +percent, or what the node's replacement rule asks if more;
    the max fee never below the priority fee."""
    rule = REPLACEMENT_RULES[node]
    bumped = {
        name: max(
            math.ceil(value * (100 + percent) / 100),
            math.ceil(value * (100 + rule.percent_min) / 100) + rule.plus_wei,
        )
        for name, value in fees.items()
    }
    if "maxFeePerGas" in bumped and "maxPriorityFeePerGas" in bumped:
        bumped["maxFeePerGas"] = max(bumped["maxFeePerGas"], bumped["maxPriorityFeePerGas"])
    return bumped


@dataclass
class SendOptions:
    """How an oracle pass sends: the retry schedule (chain's RetryPolicy), the fee bump and the
    node's replacement rule, first fees (None: the node's, as the bridge prices them), and an
    event that stops waiting (SIGTERM)."""

    policy: Any = None  # chain.RetryPolicy
    fee_bump_percent: int = DEFAULT_FEE_BUMP_PERCENT
    node_kind: NodeKind = "geth"
    initial_fees: dict[str, int] | None = None
    interrupt: threading.Event | None = None

    def retry_policy(self) -> Any:
        return self.policy or chain.RetryPolicy()


@dataclass
class _Attempt:
    nonce: int
    fees: dict[str, int]
    number: int = 0
    started: float = field(default_factory=time.perf_counter)


def send_operation(
    db: Database,
    node: Any,
    sender: LocalAccount,
    call: dict[str, Any],
    *,
    operation: Operation,
    creator_id: int,
    options: SendOptions,
    sequence: int | None = None,
    metrics: dict[str, Any] | None = None,
    on_failure: Callable[[str, str], None],
    on_sent: Callable[[Connection, core.BlockchainTransaction], None] | None = None,
) -> core.BlockchainTransaction | None:
    """Send `call` with retries; log each attempt. None when every attempt failed (after
    on_failure(error_class, message)); `on_sent` runs in the transaction that logs the
    attempt that reached the node. Raises SyncPaused when the breaker is open."""
    policy = options.retry_policy()
    state = _Attempt(
        nonce=chain.next_nonce(db, node, sender.address),
        fees=dict(options.initial_fees or chain.eip1559_fees(node)),
    )
    stop = stop_after_attempt(policy.attempts_max)
    if options.interrupt is not None:
        stop = stop | stop_when_event_set(options.interrupt)
    retrying = Retrying(
        retry=retry_if_exception(lambda e: type(e) is _Retry),  # not _Failed
        wait=policy.wait(),
        stop=stop,
        sleep=_sleeper(options.interrupt),
        reraise=True,
    )
    common = {"operation": operation, "chain_id": node.chain_id, "creator_id": creator_id}
    common |= {"sequence": sequence, "metrics": metrics}
    try:
        for attempt in retrying:
            with attempt:
                state.number = attempt.retry_state.attempt_number
                state.started = time.perf_counter()
                return _try_once(db, node, sender, call, state, options, common, on_sent, policy)
    except _Failed as failed:
        on_failure(failed.error_class, failed.message)
    except _Retry as last:  # retries ran out (or the interrupt stopped them)
        on_failure(last.error_class, last.message)
    return None


class _Retry(Exception):
    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


class _Failed(_Retry):
    pass


def _try_once(
    db: Database,
    node: Any,
    sender: LocalAccount,
    call: dict[str, Any],
    state: _Attempt,
    options: SendOptions,
    common: dict[str, Any],
    on_sent: Callable[[Connection, core.BlockchainTransaction], None] | None,
    policy: Any,
) -> core.BlockchainTransaction:
    started_at = utc_now()
    try:
        tx = chain.send_transaction(
            db,
            node,
            sender,
            {**call, **state.fees},
            transaction_type=f"oracle_{common['operation'].lower()}",
            nonce=state.nonce,
        )
    except Exception as error:
        error_class = _error_class(error, node)
        last = state.number >= policy.attempts_max
        retried = error_class in ("gas", "nonce", "network") and not last
        log_attempt(
            db,
            **common,
            status="RETRY" if retried else "FAILED",
            attempt=state.number,
            started_at=started_at,
            duration_ms=_elapsed_ms(state.started),
            gas_price_wei=state.fees.get("maxFeePerGas"),
            error_class=error_class,
            error_message=str(error),
        )
        if error_class == "breaker":
            raise SyncPaused(f"oracle sync paused: {error}") from error
        if not retried:
            raise _Failed(error_class, str(error)) from error
        _adjust(state, error_class, node, sender, options)
        raise _Retry(error_class, str(error)) from error
    with db.transaction() as conn:
        log_attempt(
            conn,
            **common,
            status="PENDING",
            attempt=state.number,
            started_at=started_at,
            duration_ms=_elapsed_ms(state.started),
            transaction_hash=tx.transaction_hash,
            gas_price_wei=state.fees.get("maxFeePerGas"),
        )
        if on_sent is not None:
            on_sent(conn, tx)
    return tx


def _adjust(
    state: _Attempt, error_class: str, node: Any, sender: LocalAccount, options: SendOptions
) -> None:
    """What the next attempt changes: dearer fees after a gas error, the node's nonce after a
    nonce error; after a network error nothing (the same signed transaction)."""
    if error_class == "gas":
        state.fees = bumped_fees(
            state.fees, percent=options.fee_bump_percent, node=options.node_kind
        )
    elif error_class == "nonce":
        state.nonce = node.mined_nonce(sender.address)


def _error_class(error: BaseException, node: Any) -> str:
    cause = error.__cause__ if isinstance(error, chain.SendFailed) and error.__cause__ else error
    if node.resilience.state == "open":  # the bridge's breaker: every call fails fast
        return "breaker"
    kind = chain.classify(cause)
    return {
        chain.ErrorKind.NETWORK: "network",
        chain.ErrorKind.NOT_FOUND: "network",
        chain.ErrorKind.GAS: "gas",
        chain.ErrorKind.NONCE: "nonce",
    }.get(kind, "execution")


def _sleeper(interrupt: threading.Event | None) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        if interrupt is None:
            time.sleep(seconds)
        else:
            interrupt.wait(seconds)

    return sleep


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
