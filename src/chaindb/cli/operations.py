"""chaindb backup | restore | export | import"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress

import chaindb
from chaindb.cli.output import confirm_or_refuse, console, error_console, open_database, print_json
from chaindb.ops.backup import BackupResult, backup
from chaindb.ops.export import export_rows, export_schema
from chaindb.ops.importing import import_rows
from chaindb.ops.restore import RestoreReport, check_file, restore, verify_backup


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
    app.command("export")(export_command)
    app.command("import")(import_command)


def backup_command(
    ctx: typer.Context,
    output: Path | None = typer.Option(None, "--output", "-o", help="The backup's file."),
    directory: Path | None = typer.Option(
        None,
        "--dir",
        help="Where a backup named by time goes (default: CHAINDB_BACKUP_DIR, else backups/ "
        "beside a SQLite file or in the working directory).",
    ),
    schema_only: bool = typer.Option(False, "--schema-only", help="The tables, no rows."),
    data_only: bool = typer.Option(False, "--data-only", help="The rows, no tables."),
    keep_days: int | None = typer.Option(
        None, "--keep-days", help="Then delete this database's backups older than N days."
    ),
    verify: bool = typer.Option(
        False, "--verify", help="Then restore it into a scratch database and check it."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Back up the database (SQLite: a consistent copy while writers run, gzip; PostgreSQL:
    pg_dump, custom format), with a manifest; --verify restores it into a scratch database and
    checks it (exit 1 on any difference)."""
    with open_database(ctx) as db:
        result = backup(
            db,
            directory=directory,
            output=output,
            schema_only=schema_only,
            data_only=data_only,
            keep_days=keep_days,
        )
        checked = verify_backup(result.path, like=db) if verify else None
    if as_json:
        print_json({**result.as_dict(), "verify": checked.as_dict() if checked else None})
    else:
        _show_backup(result, checked)
    if checked is not None and not checked.ok:
        raise typer.Exit(1)


def restore_command(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="The backup file (its manifest beside it)."),
    to: str | None = typer.Option(None, "--to", metavar="URL", help="Restore into this database."),
    clean: bool = typer.Option(False, "--clean", help="Replace what the target holds."),
    force: bool = typer.Option(False, "--force", help="Do not ask before --clean."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Restore a backup into an empty database (or replace one with --clean), then compare it
    with its manifest and run validate and every module's verify (exit 1 on any difference)."""
    check_file(path)  # a damaged file is refused before anything else
    target = chaindb.connect(to) if to else open_database(ctx, must_exist=False)
    with target:
        error_console.print(f"database: {target.display_url}", markup=False)
        if clean:
            confirm_or_refuse(
                f"Replace everything in {target.display_url} with {path.name}?", force
            )
        report = restore(path, to=target, clean=clean)
    if as_json:
        print_json(report.as_dict())
    else:
        _show_restore(report)
    if not report.ok:
        raise typer.Exit(1)


NO_BACKUP_HELP = "Do not take a backup first."


def backup_before(db: chaindb.Database, change: str) -> None:
    """A change that loses data goes first to a backup (see ops.backup.default_directory), and
    says where it is
    and how to get back: no migration tool we know of does this."""
    made = backup(db)
    error_console.print(
        f"backup before {change}: {made.path} (to undo: chaindb restore {made.path} --clean; "
        "--no-backup skips it)",
        markup=False,
    )


def _show_backup(result: BackupResult, checked: RestoreReport | None) -> None:
    manifest = result.manifest
    rows = sum(manifest.row_counts.values())
    console.print(
        f"backup {result.path} ({manifest.size_bytes:,} bytes, {len(manifest.row_counts)} "
        f"tables, {rows:,} rows; manifest beside it)",
        markup=False,
    )
    for name in result.pruned:
        console.print(f"pruned {name}", markup=False)
    if checked is not None:
        _show_restore(checked)
    console.print(f"restore it with: chaindb restore {result.path}", markup=False)


def _show_restore(report: RestoreReport) -> None:
    for problem in report.problems:
        console.print(f"[red]problem[/red] {problem}")
    if report.ok:
        console.print(
            f"ok: {report.tables_restored} tables, {report.rows_restored:,} rows restored into "
            f"{report.target}; manifest, validate and every module's verify agree",
            markup=False,
        )


def export_command(
    ctx: typer.Context,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="The file (csv: a directory); default: standard output."
    ),
    file_format: str = typer.Option("json", "--format", help="json (lines), csv or sql."),
    table: list[str] = typer.Option(None, "--table", help="Only this table; repeatable."),
    module: list[str] = typer.Option(None, "--module", help="Only this module's tables."),
    schema: bool = typer.Option(False, "--schema", help="Print the tables' DDL instead."),
) -> None:
    """Export rows, streamed in constant memory, parents before children: amounts exact as
    decimal strings, timestamps ISO 8601 UTC, bytes as hex."""
    with open_database(ctx) as db:
        if schema:
            print(export_schema(db, tables=table or (), modules=module or ()), end="")
            return
        with table_progress("export") as show:
            report = export_rows(
                db,
                output=output,
                file_format=file_format,  # type: ignore[arg-type]
                tables=table or (),
                modules=module or (),
                on_rows=show,
            )
    total = sum(report.rows.values())
    error_console.print(
        f"exported {total:,} rows of {len(report.rows)} tables to {report.output}", markup=False
    )


def import_command(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="JSON Lines or CSV files (from chaindb export)."),
    table: str | None = typer.Option(
        None, "--table", help="The table (a CSV file's default: its name)."
    ),
    on_conflict: str = typer.Option(
        "error", "--on-conflict", help="A row whose key exists: error (default), skip or update."
    ),
    skip_validation: bool = typer.Option(
        False, "--skip-validation", help="Only the database's own constraints check the rows."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import rows into a migrated database in one transaction: a bad row is named by file,
    line and column, and nothing is written."""
    with open_database(ctx, writes=True) as db, table_progress("import") as show:
        report = import_rows(
            db,
            files,
            table=table,
            on_conflict=on_conflict,  # type: ignore[arg-type]
            skip_validation=skip_validation,
            on_rows=show,
        )
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(
            f"imported {sum(report.rows.values()):,} rows into {len(report.rows)} tables",
            markup=False,
        )


@contextmanager
def table_progress(verb: str) -> Iterator[Callable[[str, int], None]]:
    """A progress line per table on stderr (rows so far), gone when the work is done."""
    with Progress(console=error_console, transient=True) as progress:
        tasks: dict[str, Any] = {}

        def show(name: str, rows: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(f"{verb} {name}", total=None)
            progress.update(tasks[name], completed=rows)

        yield show
