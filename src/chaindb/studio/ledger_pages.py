"""Ledger: each asset's accounts and balances (posted, held, available), an account's transfers
with its running balance, open holds, the leaderboard, and a transfer's own page. Everything
is read through the ledger's face; the asset and account lists are keyset pages of its tables.
With --write, a transfer form goes through ledger.transfer (the library's validation)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chaindb import ledger
from chaindb.errors import ChaindbError, InvalidInput, NotFound
from chaindb.studio.app import render, studio_of
from chaindb.studio.display import row_url, scaled

ACCOUNTS_PER_PAGE = 50
HISTORY_PER_PAGE = 50
HOLDS_SHOWN = 20
LEADERS_SHOWN = 10
ASSETS_SHOWN_MAX = 500
_assets = ledger.metadata.tables["ledger_assets"]
_accounts = ledger.metadata.tables["ledger_accounts"]


def routes() -> list[Route]:
    return [
        Route("/ledger", ledger_index),
        Route("/ledger/account", account_page),
        Route("/ledger/transfers/{transfer_id:int}", transfer_page),
        Route("/ledger/transfer", transfer_form, methods=["POST"]),
    ]


def ledger_index(request: Request) -> Response:
    code = request.query_params.get("asset")
    after = _whole_number(request.query_params.get("_after"), "_after")
    with studio_of(request).reading() as conn:
        assets = conn.execute(sa.select(_assets).order_by(_assets.c.id).limit(ASSETS_SHOWN_MAX))
        context: dict[str, Any] = {"title": "Ledger", "assets": assets.all(), "asset": None}
        if code is not None:
            context |= _asset_context(conn, code, after)
    return render(request, "ledger.html", context)


def _asset_context(conn: Connection, code: str, after: int | None) -> dict[str, Any]:
    asset = ledger.get_asset(conn, code)
    if asset is None:
        raise NotFound(f"no ledger asset {code!r}")
    query = sa.select(_accounts).where(_accounts.c.asset_id == asset.id)
    if after is not None:
        query = query.where(_accounts.c.id > after)
    found = conn.execute(query.order_by(_accounts.c.id).limit(ACCOUNTS_PER_PAGE + 1)).all()
    page = found[:ACCOUNTS_PER_PAGE]
    accounts = [_account_line(conn, asset, row) for row in page]
    holds = ledger.open_holds(conn, asset=code, limit=HOLDS_SHOWN)
    more = len(found) > ACCOUNTS_PER_PAGE
    return {
        "title": f"Ledger: {asset.symbol} ({asset.code})",
        "asset": asset,
        "accounts": accounts,
        "next_url": f"/ledger?{urlencode({'asset': code, '_after': page[-1].id})}"
        if more
        else None,
        "holds": [_hold_line(asset, hold) for hold in holds.items],
        "leaders": [
            {**entry._asdict(), "balance": _amount(asset, entry.balance)}
            for entry in ledger.leaderboard(conn, asset=code, limit=LEADERS_SHOWN)
        ],
        "kinds": ledger.TRANSFER_KINDS,
    }


def _account_line(conn: Connection, asset: ledger.Asset, row: Any) -> dict[str, Any]:
    key = f"{row.owner_type}:{row.owner_id}"
    balance = ledger.get_balance(conn, key, asset.code)
    return {
        "key": key,
        "href": f"/ledger/account?{urlencode({'asset': asset.code, 'account': key})}",
        "posted": _amount(asset, balance.posted),
        "held": _amount(asset, balance.held),
        "available": _amount(asset, balance.available),
        "transfers": row.transfer_count,
    }


def _hold_line(asset: ledger.Asset, hold: ledger.OpenHold) -> dict[str, Any]:
    return {**hold.model_dump(), "amount": _amount(asset, hold.amount)}


def _amount(asset: ledger.Asset, amount: int | None) -> dict[str, str]:
    """An amount in base units, with the asset's decimals applied beside it."""
    if amount is None:
        return {"units": "NULL", "scaled": ""}
    if asset.decimals == 0:
        return {"units": str(amount), "scaled": ""}
    return {"units": str(amount), "scaled": f"{scaled(amount, asset.decimals)} {asset.symbol}"}


def account_page(request: Request) -> Response:
    params = request.query_params
    code, account = params.get("asset", ledger.POINTS), params.get("account", "")
    before = _whole_number(params.get("before"), "before")
    with studio_of(request).reading() as conn:
        asset = ledger.get_asset(conn, code)
        if asset is None:
            raise NotFound(f"no ledger asset {code!r}")
        balance = ledger.get_balance(conn, account, code)
        history = ledger.account_history(
            conn, account, asset=code, limit=HISTORY_PER_PAGE, before_id=before
        )
        holds = ledger.open_holds(conn, account=account, asset=code, limit=HOLDS_SHOWN)
    entries = [
        {**entry.model_dump(), "amount": _amount(asset, entry.amount)}
        | {"posted_after": _amount(asset, entry.posted_after)}
        for entry in history.items
    ]
    next_url = None
    if history.next_before_id is not None:
        query = {"asset": code, "account": account, "before": history.next_before_id}
        next_url = f"/ledger/account?{urlencode(query)}"
    context = {
        "title": f"{history.account} · {asset.symbol}",
        "asset": asset,
        "balance": {name: _amount(asset, value) for name, value in balance.model_dump().items()},
        "entries": entries,
        "holds": [_hold_line(asset, hold) for hold in holds.items],
        "next_url": next_url,
    }
    return render(request, "account.html", context)


def transfer_page(request: Request) -> Response:
    transfer_id = request.path_params["transfer_id"]
    with studio_of(request).reading() as conn:
        found = ledger.get_transfer(conn, transfer_id)
        if found is None:
            raise NotFound(f"no ledger transfer {transfer_id}")
        asset = ledger.get_asset(conn, asset_id=found.asset_id)
        hold = ledger.get_hold_states(conn, [found.id]).get(found.id)
    assert asset is not None  # ledger_transfers.asset_id is a foreign key
    context = {
        "title": f"Transfer {found.id}",
        "transfer": found,
        "asset": asset,
        "amount_shown": _amount(asset, found.amount),
        "hold": hold,
        "debit_url": row_url("ledger_accounts", [found.debit_account_id]),
        "credit_url": row_url("ledger_accounts", [found.credit_account_id]),
        "row_url": row_url("ledger_transfers", [found.id]),
    }
    return render(request, "transfer.html", context)


async def transfer_form(request: Request) -> Response:
    """A transfer made in the browser (--write only: the guard refuses it otherwise), through
    ledger.transfer: a refused one shows the library's error and writes nothing. (Async: only
    async code reads a form; the database work runs in Starlette's thread pool.)"""
    form = await request.form()
    fields = {name: str(value) for name, value in form.items()}
    code = fields.get("asset", ledger.POINTS)
    studio = studio_of(request)
    try:
        amount = _whole_number(fields.get("amount"), "amount")
        made = await run_in_threadpool(
            lambda: ledger.transfer(
                studio.db,
                debit=fields.get("debit", ""),
                credit=fields.get("credit", ""),
                amount=amount,  # type: ignore[arg-type]  # None: ledger.transfer refuses it
                kind=fields.get("kind", ""),  # type: ignore[arg-type]
                asset=code,
                reason=fields.get("reason") or None,
            )
        )
    except ChaindbError as error:
        message = studio.db.describe_error(error)
        context = {"title": "Transfer refused", "message": message, "asset_code": code}
        return render(request, "refused.html", context, status_code=400)
    return RedirectResponse(f"/ledger/transfers/{made.id}", status_code=303)


def _whole_number(text: str | None, field: str) -> int | None:
    if text is None or text == "":
        return None
    if not text.strip().isdigit():
        raise InvalidInput(field, text, "must be a whole number")
    return int(text)
