"""chaindb diagnose"""

from __future__ import annotations

import typer

from chaindb.cli.output import console, open_database, print_json
from chaindb.ops.diagnose import DiagnoseReport, diagnose

STYLE = {"critical": "red", "warning": "yellow", "info": "cyan"}


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose_command)


def diagnose_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Sizes, unused indexes, sequential scans, dead rows, long queries, connections, slow
    statements, settings against recommended values (PostgreSQL); sizes, free pages, WAL,
    quick_check (SQLite). Findings ranked by severity; exit 1 on a critical one."""
    with open_database(ctx) as db:
        report = diagnose(db)
    if as_json:
        print_json(report.as_dict())
    else:
        render(report)
    if report.critical:
        raise typer.Exit(1)


def render(report: DiagnoseReport) -> None:
    console.print(f"{report.database} ({report.backend})", markup=False)
    for table in report.tables:
        indexes = f", indexes {table.index_bytes:,} bytes" if table.index_bytes is not None else ""
        console.print(
            f"  {table.name}: {table.rows:,} rows, {table.total_bytes:,} bytes{indexes}",
            markup=False,
        )
    for statement in report.slowest_statements:
        console.print(
            f"  slow: {statement['mean_ms']} ms mean, {statement['calls']} calls: "
            f"{statement['query']}",
            markup=False,
        )
    for finding in report.findings:
        style = STYLE[finding.severity]
        console.print(f"[{style}]{finding.severity}[/{style}] ", end="")
        console.print(f"{finding.subject}: {finding.message}", markup=False)
        if finding.advice:
            console.print(f"    → {finding.advice}", markup=False)
    if not report.findings:
        console.print("ok: nothing to report")
