"""chaindb maintenance"""

from __future__ import annotations

import typer

from chaindb.cli.output import (
    confirm_or_refuse,
    console,
    error_console,
    open_database,
    print_json,
)
from chaindb.ops.maintenance import run_maintenance


def register(app: typer.Typer) -> None:
    app.command()(maintenance)


def maintenance(
    ctx: typer.Context,
    check: bool = typer.Option(
        False, "--check", help="Verify every module (the default when no action is given)."
    ),
    repair: bool = typer.Option(False, "--repair", help="Mend what --check finds, then check."),
    cleanup: bool = typer.Option(
        False, "--cleanup", help="Retention work of every module (e.g. void expired holds)."
    ),
    vacuum: bool = typer.Option(False, "--vacuum", help="Reclaim space."),
    vacuum_full: bool = typer.Option(
        False,
        "--vacuum-full",
        help="PostgreSQL: rewrite tables to their packed size, locking each (asks first).",
    ),
    analyze: bool = typer.Option(False, "--analyze", help="Refresh planner statistics."),
    reindex: bool = typer.Option(
        False, "--reindex", help="Rebuild indexes (PostgreSQL: CONCURRENTLY, writes go on)."
    ),
    checkpoint: bool = typer.Option(
        False,
        "--checkpoint",
        help="Write the WAL into the database now; prints its size before and after.",
    ),
    table: list[str] = typer.Option(
        None, "--table", help="Only this table (reindex, vacuum, analyze); repeatable."
    ),
    force: bool = typer.Option(False, "--force", help="Do not ask before --vacuum-full."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check (exit 1 on any problem), repair, clean up, reindex, vacuum, analyze, checkpoint.
    With no action given, --check."""
    if not (repair or cleanup or vacuum or vacuum_full or analyze or reindex or checkpoint):
        check = True
    with open_database(ctx, writes=True) as db:  # named even for a check: it is its verdict
        if vacuum_full and db.backend == "postgresql":
            confirm_or_refuse(
                "VACUUM FULL locks each table it rewrites against reads and writes. Go on?", force
            )
        report = run_maintenance(
            db,
            check=check,
            repair=repair,
            cleanup=cleanup,
            vacuum=vacuum,
            vacuum_full=vacuum_full,
            analyze=analyze,
            reindex=reindex,
            checkpoint=checkpoint,
            tables=table or (),
            on_step=lambda step: error_console.print(f"{step}…", markup=False),
        )
    if as_json:
        print_json(report.as_dict())
    else:
        for line in report.done:
            console.print(line, markup=False)
        for problem in report.problems:
            console.print(f"[red]problem[/red] {problem}")
        if report.checked and report.ok:
            console.print(f"ok: {', '.join(report.checked)} verified")
    if not report.ok:
        raise typer.Exit(1)
