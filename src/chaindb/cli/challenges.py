"""chaindb challenges backfill-points"""

from __future__ import annotations

import typer

from chaindb.challenges import backfill_points
from chaindb.cli.output import console, error_console, open_database, print_json

challenges_app = typer.Typer(
    help="Challenges between users: stakes held in escrow, resolution, payouts and points.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(challenges_app, name="challenges")


@challenges_app.command("backfill-points")
def backfill_points_command(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Count; award nothing."),
    batch_size: int = typer.Option(500, "--batch-size", help="Challenges per transaction."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Award points for challenges resolved off-chain, once (running it again adds nothing)."""
    with open_database(ctx, writes=not dry_run) as db:
        report = backfill_points(
            db,
            batch_size=batch_size,
            dry_run=dry_run,
            on_batch=lambda so_far: error_console.print(
                f"{so_far.challenges_seen} challenges read, {so_far.awarded} awarded…",
                markup=False,
            ),
        )
    if as_json:
        print_json(report.as_dict())
        return
    verb = "would award" if dry_run else "awarded"
    console.print(
        f"{verb} {report.points_awarded} points for {report.awarded} challenges "
        f"({report.already_awarded} already awarded, {report.skipped} skipped, "
        f"{report.challenges_seen} seen)"
    )
