"""How the migration commands print their reports: tables that never cut a revision id."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Column, Table
from rich.text import Text

from chaindb.cli.output import console, print_json
from chaindb.migrations import HistoryReport, MigrationRun, StatusReport

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def whole(header: str, values: Iterable[str]) -> Column:
    """A column rich may neither wrap nor shorten (revision ids are copied into commands)."""
    width = max([len(header), *(len(value) for value in values)])
    return Column(header, no_wrap=True, min_width=width)


def folded(header: str) -> Column:
    """A column that wraps when the terminal is narrow, losing nothing."""
    return Column(header, overflow="fold")


def cells(*values: str) -> list[Text]:
    """Values shown as they are: a reason or host name with [brackets] is not rich markup."""
    return [Text(value) for value in values]


def show_run(run: MigrationRun, as_json: bool) -> None:
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
    console.print(f"database: {report.database}", markup=False)
    revisions = [rev or "-" for m in report.modules for rev in (m.current, m.head)]
    table = Table(
        whole("module", [m.name for m in report.modules]),
        whole("current", revisions),
        whole("head", revisions),
        "applied",
        "pending",
        folded("checksums"),
    )
    for module in report.modules:
        table.add_row(
            *cells(
                module.name,
                module.current or "-",
                module.head or "-",
                str(len(module.applied)),
                str(len(module.pending)),
                module.checksums,
            )
        )
    console.print(table)
    states = [state for module in report.modules for state in module.applied]
    if states:
        applied = Table(
            whole("revision", [state.revision for state in states]),
            folded("applied at (UTC)"),
            folded("took"),
            folded("by"),
            folded("checksum"),
        )
        for state in states:
            applied.add_row(
                *cells(
                    state.revision,
                    state.applied_at.strftime(TIME_FORMAT),
                    f"{state.duration_ms:.1f} ms",
                    state.applied_by,
                    state.checksum,
                )
            )
        console.print(applied)
    for problem in report.problems:
        console.print(f"[red]problem[/red] {problem}")
    console.print("up to date" if report.up_to_date else "[yellow]not up to date[/yellow]")


def render_history(report: HistoryReport) -> None:
    console.print(f"database: {report.database}", markup=False)
    if not report.entries:
        console.print("no migration has been applied yet")
        return
    table = Table(
        "#",
        folded("when (UTC)"),
        "action",
        whole("revision", [entry.revision for entry in report.entries]),
        folded("took"),
        folded("by"),
        folded("reason"),
    )
    for entry in report.entries:
        table.add_row(
            *cells(
                str(entry.id),
                entry.applied_at.strftime(TIME_FORMAT),
                entry.action,
                entry.revision,
                f"{entry.duration_ms:.1f} ms",
                entry.applied_by,
                entry.reason or "",
            )
        )
    console.print(table)
