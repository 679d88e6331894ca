"""chaindb partitions status | enable | disable | ahead | drop-older (PostgreSQL)

Each command calls one function of `chaindb.ops.partitions`; --json prints what it returned.
"""

from __future__ import annotations

from dataclasses import asdict

import typer

from chaindb.cli.output import console, open_database, print_json
from chaindb.ops import partitions

partitions_app = typer.Typer(
    help="PostgreSQL: partition append-only tables by time, create partitions ahead, drop old "
    "ones whole (retention without DELETE).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(partitions_app, name="partitions")


def _json_option() -> bool:
    return typer.Option(False, "--json", help="Print the result as JSON.")


@partitions_app.command("status")
def status(ctx: typer.Context, as_json: bool = _json_option()) -> None:
    """Each table that can be partitioned: whether it is, its interval and partitions."""
    with open_database(ctx) as db:
        tables = partitions.status(db)
    if as_json:
        print_json([table.as_dict() for table in tables])
        return
    for table in tables:
        if not table.partitioned:
            console.print(f"{table.table} ({table.module}): not partitioned", markup=False)
            continue
        rows = sum(p.rows_estimate for p in table.partitions)
        console.print(
            f"{table.table} ({table.module}): by {table.time_column}, {table.interval}ly, "
            f"{len(table.partitions)} partitions, ~{rows} rows"
            + (f", keys in {table.key_table}" if table.key_table else ""),
            markup=False,
        )


@partitions_app.command("enable")
def enable(
    ctx: typer.Context,
    table: str = typer.Argument(..., help="The table to partition (see `partitions status`)."),
    interval: str = typer.Option("month", "--interval", help="month, week or day."),
    ahead: int = typer.Option(
        partitions.AHEAD_DEFAULT, "--ahead", help="Intervals to create beyond the current one."
    ),
    as_json: bool = _json_option(),
) -> None:
    """Convert TABLE, rows and all, in one transaction (writers wait until it is done)."""
    with open_database(ctx, writes=True) as db:
        report = partitions.enable(db, table=table, interval=interval, ahead=ahead)
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(
            f"{table}: partitioned by {report.time_column} ({report.interval}), "
            f"{len(report.partitions)} partitions",
            markup=False,
        )


@partitions_app.command("disable")
def disable(
    ctx: typer.Context,
    table: str = typer.Argument(..., help="The partitioned table to make plain again."),
    as_json: bool = _json_option(),
) -> None:
    """Make TABLE a plain table again, rows and all, in one transaction (the way back)."""
    with open_database(ctx, writes=True) as db:
        report = partitions.disable(db, table=table)
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(f"{table}: a plain table again", markup=False)


@partitions_app.command("ahead")
def ahead(
    ctx: typer.Context,
    count: int = typer.Option(
        partitions.AHEAD_DEFAULT, "--count", help="Intervals to have beyond the current one."
    ),
    as_json: bool = _json_option(),
) -> None:
    """Create the partitions of the coming intervals (maintenance --cleanup does too)."""
    with open_database(ctx, writes=True) as db:
        created = partitions.create_ahead(db, count=count)
    if as_json:
        print_json({"created": created})
    else:
        console.print(f"created: {', '.join(created) or 'none needed'}", markup=False)


@partitions_app.command("drop-older")
def drop_older(
    ctx: typer.Context,
    older_than: str = typer.Option(..., "--older-than", help="An age: 90d, 12w or 36h."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; drop nothing."),
    as_json: bool = _json_option(),
) -> None:
    """Drop every partition whose rows are all older than the age (retention, no DELETE)."""
    age = partitions.parse_age(older_than)
    with open_database(ctx, writes=not dry_run) as db:
        dropped = partitions.drop_older(db, older_than=age, dry_run=dry_run)
    if as_json:
        print_json([asdict(d) for d in dropped])
        return
    verb = "would drop" if dry_run else "dropped"
    for d in dropped:
        console.print(f"{verb} {d.partition} ({d.rows} rows before {d.upper})", markup=False)
    if not dropped:
        console.print("no partition is that old", markup=False)
