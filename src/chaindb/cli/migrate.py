"""chaindb migrate | rollback | status | validate | check | history | repair | baseline (stamp) |
create | reset | lint"""

from __future__ import annotations

import re

import click
import typer
from typer.core import TyperCommand

from chaindb import migrations
from chaindb.cli.migrate_output import describe_removal, render_history, render_status, show_run
from chaindb.cli.operations import NO_BACKUP_HELP, backup_before
from chaindb.cli.output import confirm_or_refuse, console, open_database, print_json
from chaindb.errors import DestructiveMigration

JSON_HELP = "Print the result as JSON."
_NEGATIVE = re.compile(r"^-\d+$")


def register(app: typer.Typer) -> None:
    app.command(cls=_StepsArgument)(rollback)
    for command in (migrate, status, validate, check, history, repair, baseline):
        app.command()(command)
    app.command("stamp", help="Alembic's name for baseline: the same command.")(baseline)
    for command in (create, reset, lint):
        app.command()(command)


def migrate(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the SQL; change nothing."),
    module: list[str] = typer.Option(
        None, "--module", "-m", help="Only this module (and its dependencies)."
    ),
    to: str | None = typer.Option(
        None, "--to", help="Stop at this revision; +N: apply the next N migrations."
    ),
    steps: int | None = typer.Option(None, "--steps", help="Apply the next N migrations."),
    allow_data_loss: bool = typer.Option(
        False, "--allow-data-loss", help="Apply destructive migrations (after a backup)."
    ),
    no_backup: bool = typer.Option(False, "--no-backup", help=NO_BACKUP_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Apply pending migrations (each in its own transaction, under the migration lock). A
    destructive one, allowed, goes after a backup."""
    with open_database(ctx, writes=not dry_run, must_exist=dry_run) as db:
        if allow_data_loss and not (dry_run or no_backup):
            plan = migrations.migrate(db, modules=module or None, to=to, steps=steps, dry_run=True)
            if plan.destructive:
                backup_before(db, "destructive migrations")
        run = migrations.migrate(
            db,
            modules=module or None,
            to=to,
            steps=steps,
            dry_run=dry_run,
            allow_data_loss=allow_data_loss,
        )
    show_run(run, as_json)


class _StepsArgument(TyperCommand):
    """`chaindb rollback -2`, as Alembic's `downgrade -2`: click would read -2 as an unknown
    option, so it is passed on as the REVISION argument (after `--`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        relative = [arg for arg in args if _NEGATIVE.match(arg)]
        if "--" in args or len(relative) != 1:
            return super().parse_args(ctx, args)
        others = [arg for arg in args if arg != relative[0]]
        return super().parse_args(ctx, [*others, "--", relative[0]])


def rollback(
    ctx: typer.Context,
    revision: str | None = typer.Argument(
        None, help="Revision to go back to; 'base' removes everything; -N: the last N."
    ),
    module: str | None = typer.Option(
        None, "--module", "-m", help="With 'base' or -N: only this module (and what needs it)."
    ),
    steps: int | None = typer.Option(
        None, "--steps", help="Undo the N most recently applied migrations."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the SQL; change nothing."),
    force: bool = typer.Option(False, "--force", help="Do not ask for confirmation."),
    allow_data_loss: bool = typer.Option(
        False, "--allow-data-loss", help="Run downgrades that drop rows or columns holding data."
    ),
    no_backup: bool = typer.Option(False, "--no-backup", help=NO_BACKUP_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Roll back to REVISION (or by -N / --steps N): what came after it is undone, newest
    first. Asks first, saying which migrations and tables (with their rows) go; a downgrade
    that drops data needs --allow-data-loss."""
    chosen = {"module": module, "steps": steps, "allow_data_loss": allow_data_loss}
    with open_database(ctx, writes=not dry_run) as db:
        if dry_run or not force:  # the plan counts the rows that go: only to show or to ask
            plan = migrations.rollback(db, revision, dry_run=True, **chosen)
            if dry_run or not plan.steps:
                plan.dry_run = dry_run
                show_run(plan, as_json)
                return
            if plan.destructive:  # refused before asking: no answer makes it allowed
                raise DestructiveMigration(plan.destructive, verb="roll back")
            confirm_or_refuse(describe_removal(f"Roll back {db.display_url}", plan), force)
        if not no_backup:
            backup_before(db, "the rollback")
        run = migrations.rollback(db, revision, **chosen)
    show_run(run, as_json)


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Per module: current revision, applied migrations, pending ones, checksum state."""
    with open_database(ctx) as db:
        report = migrations.status(db)
    if as_json:
        print_json(report.as_dict())
    else:
        render_status(report)


def validate(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Fail if an applied migration's file changed, is missing, or was skipped by the history."""
    with open_database(ctx) as db:
        report = migrations.validate(db)
    if as_json:
        print_json(report.as_dict())
    elif report.ok:
        console.print(f"ok: {report.checked} applied migrations match their files")
    else:
        for problem in report.problems:
            console.print(f"[red]invalid[/red] {problem}")
    if not report.ok:
        raise typer.Exit(1)


def check(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Deploy gate: exit 1 when a migration is pending or an applied file does not match."""
    with open_database(ctx) as db:
        report = migrations.check(db)
    if as_json:
        print_json(report.as_dict())
    elif report.ok:
        console.print("ok: up to date, every applied migration matches its file")
    else:
        if report.pending:
            console.print(f"[yellow]pending[/yellow] {', '.join(report.pending)}")
        for problem in report.problems:
            console.print(f"[red]invalid[/red] {problem}")
    if not report.ok:
        raise typer.Exit(1)


def history(
    ctx: typer.Context,
    module: str | None = typer.Option(None, "--module", "-m", help="Only this module."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="Only the last N entries."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Every apply, rollback, baseline and repair: when, how long, by whom, and why."""
    with open_database(ctx) as db:
        report = migrations.history(db, module=module, limit=limit)
    if as_json:
        print_json(report.as_dict())
    else:
        render_history(report)


def repair(
    ctx: typer.Context,
    revision: str = typer.Argument(..., help="Applied revision whose changed file is accepted."),
    reason: str = typer.Option(
        ..., "--reason", help="Why the change is accepted (kept in the history)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Accept a reviewed change to an applied migration's file: record its new checksum."""
    with open_database(ctx, writes=True) as db:
        result = migrations.repair(db, revision, reason=reason)
    if as_json:
        print_json(result.as_dict())
    elif result.repaired:
        console.print(f"repaired {result.revision}: {result.path} accepted ({result.reason})")
    else:
        console.print(f"nothing to repair: {result.path} matches what was applied")


def baseline(
    ctx: typer.Context,
    revision: str | None = typer.Argument(
        None, help="Mark this revision and what it needs (default: the modules' heads)."
    ),
    module: list[str] = typer.Option(
        None, "--module", "-m", help="Only this module (and its dependencies)."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the history)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Compare the schema only; mark nothing."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Adopt an existing database: mark migrations applied without running them, once its
    schema is shown to match what they build (differences are named, and nothing is marked)."""
    with open_database(ctx, writes=not dry_run) as db:
        result = migrations.baseline(
            db, to=revision, modules=module or None, reason=reason, dry_run=dry_run
        )
    if as_json:
        print_json(result.as_dict())
    elif not result.revisions:
        console.print("nothing to do: every chosen migration is applied already")
    elif result.differences:
        for difference in result.differences:
            console.print(f"[red]differs[/red] {difference}")
    else:
        verb = "would mark" if dry_run else "marked"
        console.print(f"schema matches; {verb} applied: {', '.join(result.revisions)}")
    if not result.ok:
        raise typer.Exit(1)


def create(
    name: str = typer.Argument(..., help="What the migration does, e.g. 'add wallet label'."),
    module: str = typer.Option(
        ..., "--module", "-m", help="Your module (from CHAINDB_MODULE_PATHS) that owns it."
    ),
    depends_on: list[str] = typer.Option(
        None,
        "--depends-on",
        help="A revision of another module it needs (default for a first one: core's head).",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Write a new migration version (upgrade and downgrade) numbered after the module's head."""
    created = migrations.create(name, module, depends_on=depends_on or None)
    if as_json:
        print_json(created.as_dict())
        return
    console.print(f"created {created.path}", markup=False)
    if created.depends_on:
        console.print(f"depends on {', '.join(created.depends_on)}")


def reset(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; change nothing."),
    force: bool = typer.Option(False, "--force", help="Do not ask for confirmation."),
    no_backup: bool = typer.Option(False, "--no-backup", help=NO_BACKUP_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Drop everything chaindb created: roll back every migration, then its own tables.
    Asks first, saying which migrations and tables (with their rows) go."""
    with open_database(ctx, writes=not dry_run) as db:
        if dry_run or not force:  # the plan counts the rows that go: only to show or to ask
            plan = migrations.reset(db, dry_run=True)
            if dry_run or not (plan.steps or plan.dropped_tables):
                plan.dry_run = dry_run
                show_run(plan, as_json)
                return
            confirm_or_refuse(describe_removal(f"Reset {db.display_url}", plan), force)
        if not no_backup:
            backup_before(db, "the reset")
        run = migrations.reset(db)
    if as_json:
        print_json(run.as_dict())
    else:
        console.print(
            f"reset: rolled back {len(run.steps)} migrations and dropped chaindb's history"
        )


def lint(
    revisions: list[str] = typer.Argument(None, help="Revisions to check (default: all)."),
    downgrades: bool = typer.Option(
        False, "--downgrades", help="Check what rolling the revisions back would do instead."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Name destructive and (on PostgreSQL) long-locking changes in migrations."""
    report = migrations.lint_report(revisions or None, downgrades=downgrades)
    if as_json:
        print_json(report.as_dict())
    elif not report.findings:
        console.print("ok: no destructive or long-locking changes")
    for finding in [] if as_json else report.findings:
        console.print(f"{finding}\n    {finding.statement}", markup=False)
    if not report.ok:
        raise typer.Exit(1)
