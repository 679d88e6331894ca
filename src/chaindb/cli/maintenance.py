"""chaindb maintenance"""

from __future__ import annotations

import typer

from chaindb.cli.output import console, open_database, print_json
from chaindb.ops.maintenance import run_maintenance


def register(app: typer.Typer) -> None:
    app.command()(maintenance)


def maintenance(
    ctx: typer.Context,
    check: bool = typer.Option(False, "--check", help="Verify balances, holds and escrows."),
    repair: bool = typer.Option(False, "--repair", help="Store what the transfers say."),
    expire_holds: bool = typer.Option(False, "--expire-holds", help="Void holds past expiry."),
    vacuum: bool = typer.Option(False, "--vacuum", help="Reclaim space."),
    analyze: bool = typer.Option(False, "--analyze", help="Refresh planner statistics."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check (exit 1 on any difference), repair, expire holds, vacuum, analyze."""
    with open_database(ctx, writes=True) as db:
        report = run_maintenance(
            db, check=check, repair=repair, expire=expire_holds, vacuum=vacuum, analyze=analyze
        )
    if as_json:
        print_json(report.as_dict())
    else:
        for line in report.done:
            console.print(line)
        if report.repaired_accounts:
            console.print(f"repaired {report.repaired_accounts} accounts")
        for problem in report.problems:
            console.print(f"[red]problem[/red] {problem}")
        if report.checked and report.ok:
            accounts = (report.ledger or {}).get("accounts_checked", 0)
            console.print(f"ok: {accounts} accounts match their transfers")
    if not report.ok:
        raise typer.Exit(1)
