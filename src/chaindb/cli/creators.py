"""chaindb creators deploy-oracle | oracle-sync | sync-stats | dashboard"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import typer

from chaindb.cli.chain import _at_least, _show_retries_on_stderr
from chaindb.cli.output import console, error_console, open_database, print_json
from chaindb.errors import ConfigError
from chaindb.stopping import SignalStop

ORACLE_KEY_ENV = "CHAINDB_ORACLE_PRIVATE_KEY"
EXIT_OF_HEALTH = {"ok": 0, "warning": 1, "critical": 2}

creators_app = typer.Typer(
    help="Creators: plays, milestones, the oracle sync of their metrics, sync health.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(creators_app, name="creators")


def _oracle_account() -> Any:
    """The oracle's signing key, from the environment only (never an option: shells log
    them)."""
    from eth_account import Account

    key = os.environ.get(ORACLE_KEY_ENV)
    if not key:
        raise ConfigError(f"{ORACLE_KEY_ENV} is not set: the oracle signs with that key")
    try:
        return Account.from_key(key)
    except (ValueError, TypeError):
        raise ConfigError(f"{ORACLE_KEY_ENV} is not a private key (0x + 64 hex)") from None


def _node(rpc_url: str | None) -> Any:
    from chaindb import chain

    if not (rpc_url or os.environ.get("CHAINDB_RPC_URL")):
        raise ConfigError(
            "the oracle needs a node: --rpc-url or CHAINDB_RPC_URL (an in-process EVM would "
            "be gone when the command ends)"
        )
    return chain.connect_chain(rpc_url)


RPC_URL = typer.Option(None, "--rpc-url", help="JSON-RPC node (default: CHAINDB_RPC_URL).")


@creators_app.command("deploy-oracle")
def deploy_oracle_command(ctx: typer.Context, rpc_url: str | None = RPC_URL) -> None:
    """Deploy the CreatorOracle contract, the oracle key (CHAINDB_ORACLE_PRIVATE_KEY) allowed to
    write to it, and record the deployment."""
    from chaindb import creators

    sender, node = _oracle_account(), _node(rpc_url)
    with open_database(ctx, writes=True) as db:
        address = creators.deploy_oracle(db, node, sender)
    console.print(f"CreatorOracle deployed at {address} on {node.chain_id}", markup=False)


@creators_app.command("oracle-sync")
def oracle_sync_command(
    ctx: typer.Context,
    rpc_url: str | None = RPC_URL,
    once: bool = typer.Option(False, "--once", help="One pass, then exit (for cron)."),
    interval_s: float = typer.Option(
        3600.0,
        "--interval",
        callback=_at_least(0, "a number of seconds"),
        help="Seconds between passes (default: hourly, as the seed's cron).",
    ),
    as_json: bool = typer.Option(False, "--json", help="A JSON line per pass."),
) -> None:
    """Sync changed creators' metrics to the CreatorOracle contract and create coins at the
    milestone; every attempt is logged in oracle_sync_logs. SIGTERM/SIGINT finish the current
    pass (a wait before a retry ends at once). Exit 1 when the last pass was paused."""
    from chaindb import creators

    sender, node = _oracle_account(), _node(rpc_url)
    _show_retries_on_stderr()
    stop = threading.Event()
    last: list[Any] = []

    def show(report: Any) -> None:
        last[:] = [report]
        if as_json:
            print(json.dumps({"kind": "pass", **report.as_dict()}), flush=True)
        else:
            console.print(f"oracle pass: {report}", markup=False)

    with open_database(ctx, writes=True) as db, SignalStop(stop):
        error_console.print(f"chain: {node.describe()}", markup=False)
        creators.run_oracle(
            db, node, sender=sender, interval_s=interval_s, once=once, stop=stop, on_pass=show
        )
    if last and last[0].paused:
        raise typer.Exit(1)


@creators_app.command("sync-stats")
def sync_stats_command(
    ctx: typer.Context,
    hours: float = typer.Option(24.0, "--hours", help="The window, in hours."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Sync health by the seed's thresholds; exit 0 when ok, 1 on a warning, 2 when critical
    (for cron and monitors)."""
    from chaindb import creators

    with open_database(ctx) as db:
        stats = creators.get_sync_stats(db, hours)
    if as_json:
        print_json(stats.as_dict())
    else:
        rate = "-" if stats.success_rate is None else f"{stats.success_rate:.1%}"
        console.print(
            f"{stats.health}: {stats.attempts} attempts in {hours:g} h, success rate {rate}, "
            f"{stats.failed} failed (worst hour {stats.failed_worst_hour}), average response "
            f"{stats.average_response_s if stats.average_response_s is not None else '-'} s",
            markup=False,
        )
        for problem in stats.problems:
            console.print(f"  {problem}", markup=False)
    raise typer.Exit(EXIT_OF_HEALTH[stats.health])


@creators_app.command("dashboard")
def dashboard_command(
    ctx: typer.Context,
    creator_id: int = typer.Argument(..., help="The creator's id."),
    days: int = typer.Option(30, "--days", help="Days of statistics (at most 366)."),
    as_json: bool = typer.Option(False, "--json", help="Print the dashboard as JSON."),
) -> None:
    """A creator's last days of statistics, engagement score, milestones and month's revenue."""
    from chaindb import creators

    with open_database(ctx) as db:
        board = creators.creator_dashboard(db, creator_id, days=days)
    if as_json:
        print_json(board.as_dict())
        return
    creator = board.creator
    console.print(
        f"{creator.stage_name} (creator {creator.id}): {creator.total_plays} plays, "
        f"{creator.follower_count} followers, engagement {board.engagement.score}; "
        f"{board.plays_in_period} plays in {days} days; revenue {board.revenue.month}: "
        f"{board.revenue.total_wei} attoFIL",
        markup=False,
    )
    for milestone in board.milestones:
        console.print(f"  milestone: {milestone.description}", markup=False)
