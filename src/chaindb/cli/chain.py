"""chaindb watch"""

from __future__ import annotations

import typer

from chaindb.cli.output import console, open_database


def register(app: typer.Typer) -> None:
    app.command()(watch)


def watch(
    ctx: typer.Context,
    rpc_url: str | None = typer.Option(
        None, "--rpc-url", help="JSON-RPC node (default: CHAINDB_RPC_URL)."
    ),
    escrow: str | None = typer.Option(None, "--escrow", help="Also ingest this escrow's events."),
    interval_s: float = typer.Option(2.0, "--interval", help="Seconds between passes."),
    passes: int | None = typer.Option(None, "--passes", help="Stop after this many passes."),
    confirmations: int | None = typer.Option(None, "--confirmations", help="Blocks until final."),
    dropped_after_s: float | None = typer.Option(
        None, "--dropped-after", help="Seconds unseen before dropped."
    ),
) -> None:
    """Follow sent transactions to finality, heal reorgs, ingest escrow events, until stopped
    (SIGINT/SIGTERM finish the current pass)."""
    from chaindb.chain.client import connect_chain
    from chaindb.chain.watch import watch as run_watch

    chain = connect_chain(rpc_url, confirmations=confirmations)
    with open_database(ctx, writes=True) as db:
        summary = run_watch(
            db,
            chain,
            interval_s=interval_s,
            passes_max=passes,
            escrow_address=escrow,
            dropped_after_s=dropped_after_s,
            on_pass=lambda n, report, events: console.print(
                f"pass {n}: {report}" + (f"; events +{events.ingested}" if events else "")
            ),
        )
    console.print(str(summary))
