"""Edits beyond a transfer, each through a module's validated function (never an UPDATE of our
own): settings (core.set_setting), posting or voiding a hold (ledger.post_pending and
void_pending), revoking an asset grant (assets.revoke_grant, by the asset's owner). A refusal
shows the library's error and writes nothing. The guard refuses every POST without --write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chaindb import assets, core, ledger
from chaindb.errors import ChaindbError, InvalidInput
from chaindb.studio.app import render, studio_of
from chaindb.studio.display import row_url


def routes() -> list[Route]:
    return [
        Route("/settings", settings_page),
        Route("/settings", setting_form, methods=["POST"]),
        Route("/ledger/transfers/{transfer_id:int}/post", post_form, methods=["POST"]),
        Route("/ledger/transfers/{transfer_id:int}/void", void_form, methods=["POST"]),
        Route("/assets/grants/{grant_id:int}/revoke", revoke_form, methods=["POST"]),
    ]


def settings_page(request: Request) -> Response:
    with studio_of(request).reading() as conn:
        settings = core.list_settings(conn)
    return render(request, "settings.html", {"title": "Settings", "settings": settings})


async def setting_form(request: Request) -> Response:
    fields = await _fields(request)
    return await _attempt(
        request,
        lambda db: core.set_setting(
            db,
            fields.get("key", ""),
            fields.get("value", ""),
            description=fields.get("description") or None,
            is_public=fields.get("is_public") == "on" if "is_public" in fields else None,
        ),
        back="/settings",
        done=lambda _setting: "/settings",
    )


async def post_form(request: Request) -> Response:
    transfer_id = request.path_params["transfer_id"]
    fields = await _fields(request)
    amount = _whole_number(fields.get("amount"))
    return await _attempt(
        request,
        lambda db: ledger.post_pending(
            db, transfer_id, amount=amount, reason=fields.get("reason") or None
        ),
        back=f"/ledger/transfers/{transfer_id}",
        done=lambda made: f"/ledger/transfers/{made.id}",
    )


async def void_form(request: Request) -> Response:
    transfer_id = request.path_params["transfer_id"]
    fields = await _fields(request)
    return await _attempt(
        request,
        lambda db: ledger.void_pending(db, transfer_id, reason=fields.get("reason") or None),
        back=f"/ledger/transfers/{transfer_id}",
        done=lambda made: f"/ledger/transfers/{made.id}",
    )


async def revoke_form(request: Request) -> Response:
    grant_id = request.path_params["grant_id"]
    fields = await _fields(request)
    back = row_url("access_grants", [grant_id])
    return await _attempt(
        request,
        lambda db: assets.revoke_grant(db, grant_id, owner_address=fields.get("owner", "")),
        back=back,
        done=lambda _grant: back,
    )


async def _fields(request: Request) -> dict[str, str]:
    # Only async code reads a form; the database work then runs in the thread pool.
    form = await request.form()
    return {name: str(value) for name, value in form.items()}


async def _attempt(
    request: Request,
    action: Callable[[Any], Any],
    *,
    back: str,
    done: Callable[[Any], str],
) -> Response:
    """Run one library call in its own transaction: saved, see where it leads; refused, the
    library's message and a way back (its transaction rolled back: nothing written)."""
    studio = studio_of(request)
    try:
        result = await run_in_threadpool(action, studio.db)
    except ChaindbError as error:
        message = studio.db.describe_error(error)
        context = {"title": "Edit refused", "message": message, "back_url": back}
        return render(request, "refused.html", context, status_code=400)
    return RedirectResponse(done(result), status_code=303)


def _whole_number(text: str | None) -> int | None:
    """A form's optional whole number; anything else goes to the library as is, to be refused
    with its own message."""
    if not text:
        return None
    if not text.strip().isdigit():
        raise InvalidInput("amount", text, "must be a whole number")
    return int(text)
