"""How the migration commands print their reports: tables that never cut a revision id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.table import Column, Table
from rich.text import Text

from chaindb.cli.output import console, print_json
from chaindb.migrations import HistoryReport, MigrationRun, StatusReport
from chaindb.migrations.bookkeeping import HISTORY_TABLE
from chaindb.migrations.bookkeeping import metadata as own_tables

OWN_TABLES = set(own_tables.tables)

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


def describe_removal(what: str, plan: MigrationRun) -> str:
    """One line for the confirmation: how many migrations in which modules, which tables with
    how many rows. Tables with rows come first: they are what a user would miss."""
    modules = Counter(step.module for step in plan.steps)
    per_module = ", ".join(f"{name} {count}" for name, count in modules.items())
    parts = [f"undo {_count(len(plan.steps), 'migration')} ({per_module})"] if plan.steps else []
    own = {table.name: table.rows for table in plan.dropped_tables if table.name in OWN_TABLES}
    tables = sorted(
        (table for table in plan.dropped_tables if table.name not in own), key=lambda t: -t.rows
    )
    dropped = [f"{table.name} ({_count(table.rows, 'row')})" for table in tables if table.rows]
    if empty := len(tables) - len(dropped):
        dropped.append(_count(empty, "empty table"))
    if own:
        entries = own.get(HISTORY_TABLE, 0)
        dropped.append(f"chaindb's migration history ({_count(entries, 'entry')})")
    if dropped:
        parts.append(f"dropping {_listed(dropped)}")
    if plan.unrendered:
        parts.append(f"and what {', '.join(plan.unrendered)} drop cannot be told in advance")
    return f"{what}: {', '.join(parts)}. Continue?"


def _count(number: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number:,} {noun if number == 1 else plural}"


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def show_run(run: MigrationRun, as_json: bool) -> None:
    if as_json:
        print_json(run.as_dict())
        return
    if not run.steps:
        console.print("nothing to do: already at the requested version")
        return
    for finding in run.destructive:
        print(f"-- refused without --allow-data-loss: {finding}")
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
    if report.pushed_tables:
        last = report.last_push
        when = f", last pushed {last.applied_at.strftime(TIME_FORMAT)} UTC by {last.applied_by}"
        console.print(
            f"pushed tables (chaindb push): {', '.join(report.pushed_tables)}"
            + (when if last else ""),
            markup=False,
        )
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
