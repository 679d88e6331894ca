"""chaindb assets worker|trees|search|cleanup, and chaindb roles create-service"""

from __future__ import annotations

import importlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from chaindb import assets
from chaindb.cli.output import console, error_console, open_database, print_json
from chaindb.errors import ConfigError
from chaindb.stopping import SignalStop

PAYER_ENV = "CHAINDB_SOLANA_PAYER_KEYPAIR"
DELEGATE_ENV = "CHAINDB_SOLANA_TREE_DELEGATE_KEYPAIR"
PASSWORD_ENV = "CHAINDB_SERVICE_PASSWORD"
CONCURRENCY_MAX = 64

assets_app = typer.Typer(
    help="Memory assets on Solana and Arweave: the minting queue's workers, merkle trees, "
    "search, retention.",
    no_args_is_help=True,
)
roles_app = typer.Typer(help="PostgreSQL roles for the application.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(assets_app, name="assets")
    app.add_typer(roles_app, name="roles")


@assets_app.command("worker")
def worker_command(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Stop when nothing is ready."),
    concurrency: int = typer.Option(1, "--concurrency", help="Workers (threads) to run."),
    batch_size: int = typer.Option(10, "--batch-size", help="Jobs a worker claims at once."),
    lease_s: float = typer.Option(60.0, "--lease-s", help="How long a claim holds its jobs."),
    mint: str | None = typer.Option(
        None,
        "--mint",
        metavar="MODULE:FUNCTION",
        help="The application's mint function; default: chaindb's SolanaMinter, keypairs "
        f"from {PAYER_ENV} (and {DELEGATE_ENV}).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Run minting workers until SIGINT/SIGTERM, which let each finish its batch in hand."""
    if not 1 <= concurrency <= CONCURRENCY_MAX:
        raise typer.BadParameter(f"must be 1 to {CONCURRENCY_MAX}", param_hint="--concurrency")
    mint_function = _load_mint(mint)
    stop = threading.Event()
    reports: list[assets.WorkerReport] = []
    with open_database(ctx, writes=True) as db, SignalStop(stop):

        def work(number: int) -> None:
            reports.append(
                assets.run_worker(
                    db,
                    mint=mint_function,
                    worker_id=f"{assets.default_worker_id()}:{number}",
                    batch_size_max=batch_size,
                    lease_s=lease_s,
                    once=once,
                    stop=stop,
                )
            )

        threads = [threading.Thread(target=work, args=(n,)) for n in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    summary = {key: sum(getattr(r, key) for r in reports) for key in _COUNTS}
    if as_json:
        print_json({**summary, "workers": [report.as_dict() for report in reports]})
    else:
        console.print(", ".join(f"{summary[key]} {key}" for key in _COUNTS))


_COUNTS = ("batches", "completed", "retried", "dead", "lost")


@assets_app.command("trees")
def trees_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the trees as JSON."),
) -> None:
    """The merkle trees leaves are allocated from, oldest first, with their fill levels."""
    with open_database(ctx) as db:
        trees = assets.list_trees(db)
    if as_json:
        print_json([{**tree.model_dump(), "leaves_left": tree.leaves_left} for tree in trees])
        return
    table = Table("tree", "depth", "buffer", "canopy", "leaves used", "capacity", "full", "status")
    for tree in trees:
        table.add_row(
            tree.tree_address,
            str(tree.max_depth),
            str(tree.max_buffer_size),
            str(tree.canopy_depth),
            str(tree.next_leaf_index),
            str(tree.capacity),
            f"{tree.fill_ratio:.1%}",
            tree.status,
        )
    console.print(table)


@assets_app.command("search")
def search_command(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="Words that must all appear in the metadata."),
    as_wallet: str | None = typer.Option(None, "--as-wallet", help="Act for this wallet."),
    limit: int = typer.Option(50, "--limit", help="At most this many assets."),
    as_json: bool = typer.Option(False, "--json", help="Print the assets as JSON."),
) -> None:
    """Full-text search over asset metadata (assets.search_assets)."""
    with open_database(ctx) as db:
        found = assets.search_assets(db, query, as_wallet=as_wallet, limit=limit)
    if as_json:
        print_json([asset.model_dump() for asset in found])
        return
    for asset in found:
        name = asset.metadata.get("name", "")
        console.print(f"{asset.asset_id}  {asset.owner_address}  {name}", markup=False)


@assets_app.command("cleanup")
def cleanup_command(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Count; change nothing."),
    queue_days: int | None = typer.Option(None, "--queue-days", help="Completed jobs' age."),
    audit_days: int | None = typer.Option(None, "--audit-days", help="Audit rows' age."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Delete old completed minting jobs and archive old audit rows, in bounded batches."""
    with open_database(ctx, writes=not dry_run) as db:
        report = assets.run_cleanup(
            db, queue_days=queue_days, audit_days=audit_days, dry_run=dry_run
        )
    if as_json:
        print_json(report.as_dict())
    else:
        for line in report.lines():
            console.print(line, markup=False)


@roles_app.command("create-service")
def create_service_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The role's name (a lowercase SQL identifier)."),
    as_json: bool = typer.Option(False, "--json", help="Print the statements run as JSON."),
) -> None:
    """Create a least-privilege service role (PostgreSQL). The password comes
    from CHAINDB_SERVICE_PASSWORD or is asked for; it is never printed."""
    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        f"password for {name}", hide_input=True, confirmation_prompt=True, err=True
    )
    with open_database(ctx, writes=True) as db:
        statements = assets.create_service_role(db, name=name, password=password)
    if as_json:
        print_json({"role": name, "statements": statements})
    else:
        error_console.print(f"role {name} ready: {len(statements)} statements", markup=False)


def _load_mint(spec: str | None) -> assets.MintFunction:
    if spec is None:
        payer = _keypair(PAYER_ENV)
        delegate = _keypair(DELEGATE_ENV) if os.environ.get(DELEGATE_ENV) else payer
        return assets.SolanaMinter.from_environment(payer, delegate)
    module, _, name = spec.partition(":")
    if not module or not name:
        raise typer.BadParameter("must read MODULE:FUNCTION", param_hint="--mint")
    try:
        function: Any = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise typer.BadParameter(f"{spec}: {error}", param_hint="--mint") from None
    return function


def _keypair(env: str) -> Any:
    """A Solana CLI keypair file (a JSON array of 64 bytes)."""
    from solders.keypair import Keypair

    path = os.environ.get(env)
    if not path:
        raise ConfigError(f"{env} is not set: the path of a Solana keypair file (or pass --mint)")
    try:
        return Keypair.from_bytes(bytes(json.loads(Path(path).read_text())))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{env}: {path} is not a Solana keypair file: {error}") from None
