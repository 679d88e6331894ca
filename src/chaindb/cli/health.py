"""chaindb health | demo"""

from __future__ import annotations

import typer

from chaindb import migrations
from chaindb.cli.output import console, open_database, print_json
from chaindb.health import HealthReport, check_health

STATUS_STYLE = {"healthy": "green", "degraded": "yellow", "unhealthy": "red"}


def register(app: typer.Typer) -> None:
    app.command()(health)
    app.command()(demo)


def health(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Reachable, writable, intact, migrations applied? Exit 0 healthy, 1 unhealthy, 2 degraded
    (reachable and writable, but migrations are pending)."""
    with open_database(ctx, must_exist=False) as db:
        report = check_health(db)
    if as_json:
        print_json(report.as_dict())
    else:
        render_health(report)
    raise typer.Exit(report.exit_code)


def render_health(report: HealthReport) -> None:
    style = STATUS_STYLE[report.status]
    console.print(f"[{style}]{report.status}[/{style}]: {report.database} ({report.backend})")
    if report.error:
        console.print(f"  error: {report.error}", markup=False)
    if report.reachable:
        console.print(f"  server: {report.server_version}, latency {report.latency_ms} ms")
        console.print(f"  writable: {'yes' if report.writable else 'no'}")
        if report.integrity is not None:
            console.print(f"  integrity (quick_check): {report.integrity}", markup=False)
        for name, state in report.migrations.items():
            pending = f", {state['pending']} pending" if state["pending"] else ""
            console.print(f"  {name}: {state['current'] or '-'} (head {state['head']}{pending})")
    for replica in report.replicas:
        shown = replica["error"] or f"lag {replica['lag_s']} s"
        console.print(f"  replica {replica['url']}: {shown}", markup=False)
    for problem in report.problems:
        console.print(f"  [red]problem[/red] {problem}")


def demo(ctx: typer.Context) -> None:
    """Run the demo story on the database: a challenge staked, resolved, paid, ranked."""
    from chaindb.demo import run_demo

    with open_database(ctx, writes=True, must_exist=False) as db:
        migrations.migrate(db)  # the story needs every module (make demo has migrated already)
        run_demo(db, console)
