"""chaindb push: the application's own tables brought in line with its declaration."""

from __future__ import annotations

import sys

import typer

from chaindb import migrations
from chaindb.cli.operations import NO_BACKUP_HELP, backup_before
from chaindb.cli.output import confirm_or_refuse, console, open_database, print_json
from chaindb.migrations import PushPlan

SCHEMA_HELP = "Your tables' MetaData, as package.module:metadata (default: CHAINDB_PUSH_SCHEMA)."


def register(app: typer.Typer) -> None:
    app.command()(push)


def push(
    ctx: typer.Context,
    schema: str | None = typer.Option(None, "--schema", help=SCHEMA_HELP),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan and SQL; change nothing."
    ),
    accept_data_loss: bool = typer.Option(
        False, "--accept-data-loss", help="Apply changes that lose data (after a backup)."
    ),
    no_backup: bool = typer.Option(False, "--no-backup", help=NO_BACKUP_HELP),
    to_migration: str | None = typer.Option(
        None,
        "--to-migration",
        metavar="NAME",
        help="Write the plan as your module's next migration.",
    ),
    module: str | None = typer.Option(
        None, "--module", "-m", help="With --to-migration: the module (default: your only one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Bring your application's own tables in line with their declaration (a SQLAlchemy
    MetaData): prints the plan as SQL, names each change that loses data with the rows it
    affects, and applies it in one transaction (recorded in the history). chaindb's own tables
    are never touched. Changes that lose data need --accept-data-loss or a yes at a terminal."""
    if to_migration is not None:
        with open_database(ctx) as db:
            plan = migrations.push_to_migration(
                db, name=to_migration, metadata=schema, module=module
            )
        _show(plan, as_json)
        return
    with open_database(ctx, writes=not dry_run, must_exist=dry_run) as db:
        plan = migrations.push(db, metadata=schema, dry_run=True)
        if dry_run or not plan.changes:
            _show(plan, as_json)
            return
        if plan.data_loss and not plan.blocked and not accept_data_loss:
            accept_data_loss = _confirmed(plan)
        if plan.data_loss and accept_data_loss and not no_backup:
            backup_before(db, "the push")
        plan = migrations.push(db, metadata=schema, accept_data_loss=accept_data_loss)
    _show(plan, as_json)


def _confirmed(plan: PushPlan) -> bool:
    """At a terminal, the losses shown and a yes stand for --accept-data-loss; without one,
    the push goes on to refuse them, naming each."""
    if not sys.stdin.isatty():
        return False
    for change in plan.data_loss:
        console.print(f"loses data: {change}", markup=False)
    confirm_or_refuse("Apply these changes?", force=False)
    return True


def _show(plan: PushPlan, as_json: bool) -> None:
    if as_json:
        print_json(plan.as_dict())
        return
    for ignored in plan.ignored:
        print(f"-- not pushed: {ignored}: chaindb's own")
    if not plan.changes:
        console.print("nothing to do: the database matches the declaration")
        return
    for change in plan.changes:
        mark = "blocked" if change.blocked else "data loss" if change.loses_data else "change"
        print(f"-- {mark}: {change}")
    if plan.migration:
        console.print(f"wrote {plan.migration}: apply it with chaindb migrate", markup=False)
        return
    print("\n\n".join(plan.sql))
    if plan.applied:
        console.print(f"pushed {len(plan.changes)} changes ({plan.duration_ms:.1f} ms)")
    elif plan.blocked:
        print("-- a push would refuse the blocked changes, even with --accept-data-loss")
    elif plan.data_loss:
        print("-- a push would refuse the data loss without --accept-data-loss")
