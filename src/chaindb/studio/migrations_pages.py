"""Migrations: each module's status (applied, pending, checksums), the history of every apply
and rollback, and `chaindb diagnose`'s findings, through chaindb.migrations and chaindb.ops."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chaindb import migrations
from chaindb.ops.diagnose import diagnose
from chaindb.studio.app import render, studio_of

HISTORY_SHOWN = 200


def routes() -> list[Route]:
    return [Route("/migrations", migrations_page)]


def migrations_page(request: Request) -> Response:
    # These open their own read transactions: each is one report, consistent in itself.
    db = studio_of(request).db
    context = {
        "title": "Migrations",
        "status": migrations.status(db),
        "history": list(reversed(migrations.history(db, limit=HISTORY_SHOWN).entries)),
        "diagnosis": diagnose(db),
    }
    return render(request, "migrations.html", context)
