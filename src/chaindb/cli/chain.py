"""chaindb watch"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from chaindb.cli.output import console, error_console, open_database
from chaindb.errors import InvalidInput

if TYPE_CHECKING:
    from chaindb.chain import IngestReport, TrackReport

# The modules of the `chain` extra: a command that needs one that is missing says how to get it.
CHAIN_EXTRA_MODULES = frozenset(
    {"web3", "eth_account", "eth_tester", "eth", "pybreaker", "hexbytes", "eth_abi", "requests"}
)
CHAIN_EXTRA_HINT = (
    "the chain bridge needs web3.py, eth-account and eth-tester: pip install 'chaindb[chain]'"
)
PROGRESS_SHOWN_FROM_ITEMS = 20  # a step with fewer items is over before a bar would help


def register(app: typer.Typer) -> None:
    app.command()(watch)


def missing_chain_extra(error: ModuleNotFoundError) -> str | None:
    """The install hint when `error` is a module of the chain extra that is not installed."""
    return CHAIN_EXTRA_HINT if (error.name or "").split(".")[0] in CHAIN_EXTRA_MODULES else None


def _at_least(minimum: int, unit: str) -> Callable[[typer.CallbackParam, Any], Any]:
    """A check for a numeric option: refuses (one line, naming the option) what is below
    `minimum`, infinite or not a number."""

    def check(param: typer.CallbackParam, value: Any) -> Any:
        if value is not None and not (math.isfinite(value) and value >= minimum):
            raise InvalidInput(param.opts[0], value, f"must be {unit} >= {minimum}")
        return value

    return check


def _escrow(value: str | None) -> str | None:
    from chaindb.chain import evm_address

    return None if value is None else evm_address(value, "--escrow")


def watch(
    ctx: typer.Context,
    rpc_url: str | None = typer.Option(
        None, "--rpc-url", help="JSON-RPC node (default: CHAINDB_RPC_URL)."
    ),
    escrow: str | None = typer.Option(
        None, "--escrow", callback=_escrow, help="Also ingest this escrow contract's events."
    ),
    interval_s: float = typer.Option(
        2.0,
        "--interval",
        callback=_at_least(0, "a number of seconds"),
        help="Seconds between passes.",
    ),
    passes: int | None = typer.Option(
        None, "--passes", callback=_at_least(1, "a whole number"), help="Stop after N passes."
    ),
    confirmations: int | None = typer.Option(
        None,
        "--confirmations",
        callback=_at_least(1, "a whole number"),
        help="Blocks until final (default: CHAINDB_CONFIRMATIONS, 12; 3 in process).",
    ),
    dropped_after_s: float | None = typer.Option(
        None,
        "--dropped-after",
        callback=_at_least(0, "a number of seconds"),
        help="Seconds a transaction may go unseen by the node before it is dropped (600).",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON line per pass, then the summary as a JSON line."
    ),
) -> None:
    """Follow sent transactions to finality, heal reorgs, ingest escrow events, until stopped
    (SIGINT/SIGTERM finish the current pass). Refuses a node that is not the chain the
    database follows."""
    from chaindb.chain import connect_chain
    from chaindb.chain import watch as run_watch

    _show_retries_on_stderr()
    chain = connect_chain(rpc_url, confirmations=confirmations)
    with open_database(ctx, writes=True) as db:
        error_console.print(f"chain: {chain.describe()}", markup=False)
        with _progress_bar() as progress:
            summary = run_watch(
                db,
                chain,
                interval_s=interval_s,
                passes_max=passes,
                escrow_address=escrow,
                dropped_after_s=dropped_after_s,
                on_pass=_print_pass_json if as_json else _print_pass,
                progress=progress,
            )
    if as_json:
        print(json.dumps({"kind": "summary", **summary.as_dict()}), flush=True)
    else:
        console.print(str(summary), markup=False)


def _print_pass(number: int, report: TrackReport, events: IngestReport | None) -> None:
    line = f"pass {number}: {report}"
    if events is not None:
        read = (
            f"blocks {events.from_block}-{events.to_block}"
            if events.from_block is not None
            else "no new blocks"
        )
        line += f"; events +{events.ingested} ({read}), {events.projected} projected"
    console.print(line, markup=False)


def _print_pass_json(number: int, report: TrackReport, events: IngestReport | None) -> None:
    line = {
        "kind": "pass",
        "pass": number,
        "tracked": report.as_dict(),
        "events": events.as_dict() if events is not None else None,
    }
    print(json.dumps(line), flush=True)


def _show_retries_on_stderr() -> None:
    """RPC retries (logged by chaindb.chain) as lines on stderr: a node that is down is seen
    at once, not after a minute of silent backoff."""
    logger = logging.getLogger("chaindb.chain")
    if not any(getattr(handler, "chaindb_cli", False) for handler in logger.handlers):
        handler = logging.StreamHandler()  # stderr
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.chaindb_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr for a pass's long steps (at a terminal only)."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=error_console,
        transient=True,
        disable=not error_console.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def show(step: str, done: int, total: int) -> None:
        if total < PROGRESS_SHOWN_FROM_ITEMS:
            return
        if step not in tasks:
            tasks[step] = bar.add_task(step, total=total)
        bar.update(tasks[step], completed=done, total=total)
        if done >= total:
            bar.remove_task(tasks.pop(step))

    with bar:
        yield show
