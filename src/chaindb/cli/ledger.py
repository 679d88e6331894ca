"""chaindb ledger balance | transfer | post | void | history | holds | leaderboard

Each command parses its options and calls one function of `chaindb.ledger`, with the same
names a Python caller uses. Tables by default; --json prints what the function returned
(amounts as exact integers), --csv its rows.
"""

from __future__ import annotations

from typing import Any

import typer

from chaindb import ledger
from chaindb.cli.output import open_database, print_json
from chaindb.cli.rows import note, output_format, print_record, print_rows
from chaindb.cli.values import AmountParam, ChoiceParam, IdParam
from chaindb.types import parse_utc

ledger_app = typer.Typer(
    help="The ledger: balances, transfers, holds, history, the leaderboard.",
    no_args_is_help=True,
)

ACCOUNT_HELP = "user:<id> or system:<name> (issuance, burn, escrow, ...)."
ASSET_HELP = "Asset code: points, or a token's '<caip2>/<address>' (e.g. eip155:1/0xab…)."
KEY_HELP = "Idempotency key: the same key again returns the first transfer and changes nothing."
# The library's defaults for settling a hold, shown in --help.
POST_KIND = ledger.PostRequest.model_fields["kind"].default
VOID_KIND = ledger.VoidRequest.model_fields["kind"].default


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")


def _json_option() -> Any:
    return typer.Option(False, "--json", help="Print JSON (amounts as exact integers).")


def _csv_option() -> Any:
    return typer.Option(False, "--csv", help="Print CSV (a header line, then the rows).")


def _asset_option() -> Any:
    return typer.Option("points", "--asset", metavar="CODE", help=ASSET_HELP)


def _kind_option(default: str | None) -> Any:
    """--kind, one of the ledger's kinds (listed in --help); required when there is no default."""
    return typer.Option(
        ... if default is None else default,
        "--kind",
        metavar="KIND",
        click_type=ChoiceParam(ledger.TRANSFER_KINDS),
        help=f"What the movement is: {', '.join(ledger.TRANSFER_KINDS)}.",
    )


@ledger_app.command("balance")
def balance_command(
    ctx: typer.Context,
    account: str = typer.Argument(..., metavar="ACCOUNT", help=ACCOUNT_HELP),
    asset: str = _asset_option(),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """An account's posted, held and available amounts (holds past expiry count as released)."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx) as db:
        found = ledger.get_balance(db, account, asset)
    print_record({"account": account, "asset": asset, **found.model_dump()}, fmt)


@ledger_app.command("transfer")
def transfer_command(
    ctx: typer.Context,
    debit: str = typer.Option(..., "--debit", metavar="ACCOUNT", help="Account paying."),
    credit: str = typer.Option(..., "--credit", metavar="ACCOUNT", help="Account receiving."),
    amount: int = typer.Option(
        ..., "--amount", click_type=AmountParam(), help="Base units, an exact integer."
    ),
    kind: str = _kind_option(None),
    asset: str = _asset_option(),
    key: str | None = typer.Option(None, "--key", metavar="IDEMPOTENCY_KEY", help=KEY_HELP),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept with the transfer)."),
    pending: bool = typer.Option(
        False, "--pending", help="Only hold the amount: settle it with `ledger post` or `void`."
    ),
    expires_at: str | None = typer.Option(
        None, "--expires-at", metavar="ISO8601", help="With --pending: when the hold lapses."
    ),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """Move an amount of an asset from one account to another (or hold it, with --pending)."""
    fmt = output_format(as_json, as_csv)
    expiry = None if expires_at is None else parse_utc(expires_at, "--expires-at")
    with open_database(ctx, writes=True) as db:
        done = ledger.transfer(
            db,
            debit=debit,
            credit=credit,
            amount=amount,
            kind=kind,
            asset=asset,
            pending=pending,
            expires_at=expiry,
            idempotency_key=key,
            reason=reason,
        )
    print_record(done._asdict(), fmt)


@ledger_app.command("post")
def post_command(
    ctx: typer.Context,
    hold_id: int = typer.Argument(..., metavar="HOLD_ID", click_type=IdParam()),
    amount: int | None = typer.Option(
        None, "--amount", click_type=AmountParam(), help="Post less than held; the rest is freed."
    ),
    kind: str = _kind_option(POST_KIND),
    key: str | None = typer.Option(None, "--key", metavar="IDEMPOTENCY_KEY", help=KEY_HELP),
    reason: str | None = typer.Option(None, "--reason", help="Why."),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """Settle a hold: its amount (or --amount, less) moves for good."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx, writes=True) as db:
        done = ledger.post_pending(
            db, hold_id, amount=amount, kind=kind, idempotency_key=key, reason=reason
        )
    print_record(done._asdict(), fmt)


@ledger_app.command("void")
def void_command(
    ctx: typer.Context,
    hold_id: int = typer.Argument(..., metavar="HOLD_ID", click_type=IdParam()),
    kind: str = _kind_option(VOID_KIND),
    key: str | None = typer.Option(None, "--key", metavar="IDEMPOTENCY_KEY", help=KEY_HELP),
    reason: str | None = typer.Option(None, "--reason", help="Why."),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """Release a hold: nothing moves, the amount is available again."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx, writes=True) as db:
        done = ledger.void_pending(db, hold_id, kind=kind, idempotency_key=key, reason=reason)
    print_record(done._asdict(), fmt)


HISTORY_COLUMNS = ("id", "created_at", "direction", "counterparty", "kind", "phase", "amount")


@ledger_app.command("history")
def history_command(
    ctx: typer.Context,
    account: str = typer.Argument(..., metavar="ACCOUNT", help=ACCOUNT_HELP),
    asset: str = _asset_option(),
    limit: int = typer.Option(50, "--limit", click_type=IdParam(), help="Transfers per page."),
    before_id: int | None = typer.Option(
        None, "--before-id", click_type=IdParam(), help="Only transfers older than this id."
    ),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """An account's transfers, newest first, with the posted balance after each."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx) as db:
        page = ledger.account_history(db, account, asset=asset, limit=limit, before_id=before_id)
    if fmt == "json":
        print_json(page.model_dump())
    else:
        names = (*HISTORY_COLUMNS, "posted_after", "reason")
        fields = names if fmt == "table" else tuple(ledger.AccountHistoryEntry.model_fields)
        print_rows(fields, [_row(item.model_dump(), fields) for item in page.items], fmt)
    if page.next_before_id is not None:
        note(f"more: the next page is --before-id {page.next_before_id}")


@ledger_app.command("holds")
def holds_command(
    ctx: typer.Context,
    account: str | None = typer.Argument(
        None, metavar="[ACCOUNT]", help="Only holds on this account's funds."
    ),
    asset: str = _asset_option(),
    limit: int = typer.Option(100, "--limit", click_type=IdParam(), help="Holds per page."),
    before_id: int | None = typer.Option(
        None, "--before-id", click_type=IdParam(), help="Only holds older than this id."
    ),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """Holds not yet posted or voided, newest first, with their expiry."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx) as db:
        page = ledger.open_holds(db, account=account, asset=asset, limit=limit, before_id=before_id)
    if fmt == "json":
        print_json(page.model_dump())
    else:
        fields = tuple(ledger.OpenHold.model_fields)
        print_rows(fields, [_row(item.model_dump(), fields) for item in page.items], fmt)
    if page.next_before_id is not None:
        note(f"more: the next page is --before-id {page.next_before_id}")


@ledger_app.command("leaderboard")
def leaderboard_command(
    ctx: typer.Context,
    asset: str = _asset_option(),
    limit: int = typer.Option(100, "--limit", click_type=IdParam(), help="How many users."),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """The users holding the most of an asset (equal balances share a rank)."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx) as db:
        entries = ledger.leaderboard(db, limit=limit, asset=asset)
    print_rows(ledger.LeaderboardEntry._fields, entries, fmt)


def _row(values: dict[str, Any], fields: tuple[str, ...]) -> list[Any]:
    return [values[name] for name in fields]
