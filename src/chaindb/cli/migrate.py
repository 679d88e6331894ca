"""chaindb migrate | rollback | status | validate | create | reset | lint"""

from __future__ import annotations

import typer
from rich.table import Table

from chaindb import migrations
from chaindb.cli.output import confirm_or_refuse, console, open_database, print_json
from chaindb.migrations import MigrationRun, StatusReport


def register(app: typer.Typer) -> None:
    for command in (migrate, rollback, status, validate, create, reset, lint):
        app.command()(command)


def migrate(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the SQL; change nothing."),
    module: list[str] = typer.Option(
        None, "--module", "-m", help="Only this module (and its dependencies)."
    ),
    to: str | None = typer.Option(None, "--to", help="Stop at this revision."),
    allow_data_loss: bool = typer.Option(
        False, "--allow-data-loss", help="Apply destructive migrations."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Apply pending migrations (each in its own transaction, under the migration lock)."""
    with open_database(ctx, writes=not dry_run, must_exist=dry_run) as db:
        run = migrations.migrate(
            db, modules=module or None, to=to, dry_run=dry_run, allow_data_loss=allow_data_loss
        )
    _show_run(run, as_json)


def rollback(
    ctx: typer.Context,
    revision: str = typer.Argument(..., help="Revision to go back to; 'base' removes everything."),
    module: str | None = typer.Option(
        None, "--module", "-m", help="With 'base': only this module."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the SQL; change nothing."),
    force: bool = typer.Option(False, "--force", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Roll back to REVISION: what came after it is undone, newest first."""
    with open_database(ctx, writes=not dry_run) as db:
        if not dry_run:
            confirm_or_refuse(f"Roll back {db.display_url} to {revision}?", force)
        run = migrations.rollback(db, revision, module=module, dry_run=dry_run)
    _show_run(run, as_json)


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
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
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
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


def create(
    name: str = typer.Argument(..., help="What the migration does, e.g. 'add wallet label'."),
    module: str = typer.Option(..., "--module", "-m", help="Module that owns the migration."),
) -> None:
    """Write a new migration version (upgrade and downgrade) numbered after the module's head."""
    path = migrations.create(name, module)
    console.print(f"created {path}")


def reset(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Do not ask for confirmation."),
) -> None:
    """Drop everything chaindb created: roll back every migration, then its own tables."""
    with open_database(ctx, writes=True) as db:
        confirm_or_refuse(f"Drop every chaindb table in {db.display_url}?", force)
        run = migrations.reset(db)
    console.print(f"reset: rolled back {len(run.steps)} migrations and dropped chaindb's history")


def lint(
    revisions: list[str] = typer.Argument(None, help="Revisions to check (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print findings as JSON."),
) -> None:
    """Name destructive and (on PostgreSQL) long-locking changes in migrations."""
    findings = migrations.lint(revisions or None)
    if as_json:
        print_json([finding.as_dict() for finding in findings])
    elif not findings:
        console.print("ok: no destructive or long-locking changes")
    for finding in [] if as_json else findings:
        console.print(f"{finding}\n    {finding.statement}", markup=False)
    if any(finding.kind == "destructive" for finding in findings):
        raise typer.Exit(1)


def _show_run(run: MigrationRun, as_json: bool) -> None:
    if as_json:
        print_json(run.as_dict())
        return
    if not run.steps:
        console.print("nothing to do: already at the requested version")
        return
    for step in run.steps:
        if run.dry_run:
            print(f"-- {step.revision} ({step.action}): {step.description}")
            print("\n\n".join(step.sql) + "\n")
        else:
            console.print(
                f"{step.action}d {step.revision}: {step.description} ({step.duration_ms:.1f} ms)"
            )


def render_status(report: StatusReport) -> None:
    console.print(f"database: {report.database}")
    table = Table("module", "current", "head", "applied", "pending", "checksums")
    for module in report.modules:
        table.add_row(
            module.name,
            module.current or "-",
            module.head or "-",
            str(len(module.applied)),
            str(len(module.pending)),
            module.checksums,
        )
    console.print(table)
    applied = Table("revision", "applied at (UTC)", "took", "by", "checksum")
    for module in report.modules:
        for state in module.applied:
            applied.add_row(
                state.revision,
                state.applied_at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{state.duration_ms:.1f} ms",
                state.applied_by,
                state.checksum,
            )
    if applied.row_count:
        console.print(applied)
    for problem in report.problems:
        console.print(f"[red]problem[/red] {problem}")
    console.print("up to date" if report.up_to_date else "[yellow]not up to date[/yellow]")
