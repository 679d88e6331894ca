"""chaindb health"""

from __future__ import annotations

import typer

from chaindb.cli.output import console, open_database, print_json


def register(app: typer.Typer) -> None:
    app.command()(health)
    app.command()(demo)


def health(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Reachable? Server version, latency, migration state. Exit 1 when unhealthy."""
    with open_database(ctx, must_exist=False) as db:
        report = db.health()
    if as_json:
        print_json(report)
    else:
        for key, value in report.items():
            console.print(f"{key}: {value}", markup=False)
    if not report["healthy"]:
        raise typer.Exit(1)


def demo(ctx: typer.Context) -> None:
    """Run the demo story on the database: a challenge staked, resolved, paid, ranked."""
    from chaindb.demo import run_demo

    with open_database(ctx, writes=True, must_exist=False) as db:
        run_demo(db, console)
