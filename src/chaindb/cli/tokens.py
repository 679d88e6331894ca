"""chaindb tokens create | show | list | record-tx | outcome | recent

Each command calls one function of `chaindb.tokens` with the names a Python caller uses.
Tables by default; --json prints what the function returned (amounts as exact integers).
"""

from __future__ import annotations

from typing import Any

import typer

from chaindb import tokens
from chaindb.cli.output import open_database
from chaindb.cli.rows import output_format, print_record, print_rows
from chaindb.cli.values import AmountParam, ChoiceParam, IdParam
from chaindb.errors import NotFound

tokens_app = typer.Typer(
    help="Tokens users create on CKB (RGB++) or EVM chains, and their transactions.",
    no_args_is_help=True,
)
NETWORK_HELP = "ckb:mainnet, ckb:testnet (or mainnet/testnet), or eip155:N."
TX_COLUMNS = ("id", "user_id", "token_id", "tx_type", "status", "amount", "network_id", "tx_hash")
TOKEN_COLUMNS = ("id", "symbol", "name", "supply", "status", "network_id", "creator_id")


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")


def _json_option() -> Any:
    return typer.Option(False, "--json", help="Print JSON (amounts as exact integers).")


def _csv_option() -> Any:
    return typer.Option(False, "--csv", help="Print CSV (a header line, then the rows).")


@tokens_app.command("create")
def create_command(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name"),
    symbol: str = typer.Option(..., "--symbol", help="1 to 16 ASCII letters or digits."),
    supply: int = typer.Option(..., "--supply", click_type=AmountParam(), help="Base units."),
    creator: str = typer.Option(..., "--creator", metavar="USER_ID"),
    network: str = typer.Option(..., "--network", metavar="NETWORK", help=NETWORK_HELP),
    decimals: int = typer.Option(0, "--decimals"),
    description: str | None = typer.Option(None, "--description"),
    icon_url: str | None = typer.Option(None, "--icon-url"),
    contract: str | None = typer.Option(None, "--contract", metavar="ADDRESS_OR_TYPE_HASH"),
    tx_hash: str | None = typer.Option(None, "--tx-hash", help="Its creation transaction."),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """Create a token (tokens.create_token): pending until its creation transaction is final."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx, writes=True) as db:
        token = tokens.create_token(
            db,
            name=name,
            symbol=symbol,
            supply=supply,
            creator_id=creator,
            network_id=network,
            decimals=decimals,
            description=description,
            icon_url=icon_url,
            contract_address=contract,
            tx_hash=tx_hash,
        )
    print_record(token.model_dump(), fmt)


@tokens_app.command("show")
def show_command(
    ctx: typer.Context,
    token_id: int = typer.Argument(..., metavar="TOKEN_ID", click_type=IdParam()),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """One token (tokens.get_token)."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx) as db:
        token = tokens.get_token(db, token_id)
    if token is None:
        raise NotFound(f"token_id: token {token_id} does not exist")
    print_record(token.model_dump(), fmt)


@tokens_app.command("list")
def list_command(
    ctx: typer.Context,
    creator: str | None = typer.Option(None, "--creator", metavar="USER_ID"),
    limit: int = typer.Option(100, "--limit"),
    before_id: int | None = typer.Option(None, "--before-id", click_type=IdParam()),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """Tokens newest first with their creators (tokens.list_tokens)."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx) as db:
        found = tokens.list_tokens(db, creator_id=creator, limit=limit, before_id=before_id)
    if fmt == "json":
        print_record({"tokens": [token.model_dump() for token in found]}, fmt)
        return
    rows = [[*(getattr(t, c) for c in TOKEN_COLUMNS), t.creator.username] for t in found]
    print_rows([*TOKEN_COLUMNS, "creator_username"], rows, fmt, title="tokens")


@tokens_app.command("record-tx")
def record_tx_command(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", metavar="USER_ID"),
    tx_hash: str = typer.Option(..., "--tx-hash"),
    tx_type: str = typer.Option(..., "--type", metavar="TYPE", help="create, transfer, ..."),
    network: str | None = typer.Option(None, "--network", help=NETWORK_HELP),
    token_id: int | None = typer.Option(None, "--token", click_type=IdParam()),
    amount: int | None = typer.Option(None, "--amount", click_type=AmountParam()),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """Record a token transaction, once (tokens.record_token_transaction)."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx, writes=True) as db:
        row = tokens.record_token_transaction(
            db,
            user_id=user,
            tx_hash=tx_hash,
            tx_type=tx_type,
            network_id=network,
            token_id=token_id,
            amount=amount,
        )
    print_record(row.model_dump(), fmt)


@tokens_app.command("outcome")
def outcome_command(
    ctx: typer.Context,
    tx_hash: str = typer.Argument(..., metavar="TX_HASH"),
    outcome: str = typer.Argument(
        ..., metavar="OUTCOME", click_type=ChoiceParam(("confirmed", "failed"))
    ),
    network: str = typer.Option(..., "--network", help="A CKB network."),
    block: int | None = typer.Option(None, "--block", help="The block that holds it."),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """Record what became of a CKB transaction (tokens.record_transaction_outcome)."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx, writes=True) as db:
        rows = tokens.record_transaction_outcome(
            db, network_id=network, tx_hash=tx_hash, outcome=outcome, block_number=block
        )
    _print_transactions(rows, fmt)


@tokens_app.command("recent")
def recent_command(
    ctx: typer.Context,
    user: str = typer.Argument(..., metavar="USER_ID"),
    limit: int = typer.Option(10, "--limit"),
    as_json: bool = _json_option(),
    as_csv: bool = _csv_option(),
) -> None:
    """A user's latest token transactions (tokens.get_recent_transactions)."""
    fmt = output_format(as_json, as_csv)
    with open_database(ctx) as db:
        rows = tokens.get_recent_transactions(db, user, limit=limit)
    _print_transactions(rows, fmt)


def _print_transactions(rows: list[tokens.TokenTransaction], fmt: str) -> None:
    if fmt == "json":
        print_record({"transactions": [row.model_dump() for row in rows]}, "json")
        return
    table = [[getattr(row, column) for column in TX_COLUMNS] for row in rows]
    print_rows(TX_COLUMNS, table, fmt, title="transactions")  # type: ignore[arg-type]
