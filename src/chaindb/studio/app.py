"""The studio's web app: Starlette routes over the modules' faces, Jinja pages, htmx from the
package (no Node build). Each request reads in one read transaction, read-only unless --write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from chaindb.config import secrets_of
from chaindb.database import Database
from chaindb.errors import ChaindbError, NotFound
from chaindb.studio.access import Guard
from chaindb.studio.time_limit import TIME_LIMIT_S_DEFAULT, PageTooSlow, limited

HERE = Path(__file__).parent
NAVIGATION = (
    ("Tables", "/tables"),
    ("Ledger", "/ledger"),
    ("Chain", "/chain"),
    ("Charts", "/charts"),
    ("Settings", "/settings"),
    ("Migrations", "/migrations"),
)


@dataclass(frozen=True)
class Studio:
    """What every page needs: the database, whether edits are allowed, the templates, and how
    long a page may read (see chaindb.studio.time_limit)."""

    db: Database
    write: bool
    templates: Jinja2Templates
    time_limit_s: float = TIME_LIMIT_S_DEFAULT

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One consistent snapshot for the whole page; read-only unless --write (PostgreSQL:
        a READ ONLY transaction; SQLite: query_only, set on each connection by `create_app`)."""
        # A read-only page may be a little behind: from a replica when there is one.
        with self.db.read() if self.write else self.db.replica_read() as conn:
            if self.db.backend == "postgresql" and not self.write:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            with limited(conn, time_limit_s=self.time_limit_s):
                yield conn

    def masked(self, page: str) -> str:
        """A page with the database's password (and any secret of its URL) replaced by ***.
        Only those: chaindb's generic masking would also hide `?idempotency_key=` in links."""
        for secret in secrets_of(self.db.url):
            page = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", "***", page)
        return page


def studio_of(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A page, with the password masked out of it whatever a value or an error held."""
    studio = studio_of(request)
    page = studio.templates.get_template(template).render(
        {
            "request": request,
            "navigation": NAVIGATION,
            "database": studio.db.display_url,
            "backend": studio.db.backend,
            "write": studio.write,
            **context,
        }
    )
    return HTMLResponse(studio.masked(page), status_code=status_code)


def error_page(request: Request, error: Exception) -> HTMLResponse:
    status = 400
    if isinstance(error, NotFound):
        status = 404
    elif isinstance(error, PageTooSlow):  # the request was fine; the database is too big for it
        status = 503
    elif not isinstance(error, ChaindbError):
        status = 500
    message = studio_of(request).db.describe_error(error)
    return render(request, "error.html", {"title": "Error", "message": message}, status_code=status)


async def _chaindb_error(request: Request, error: Exception) -> Response:
    return error_page(request, error)


def _home(_request: Request) -> Response:
    return RedirectResponse("/tables", status_code=307)


def create_app(
    db: Database,
    *,
    write: bool = False,
    token: str | None = None,
    time_limit_s: float = TIME_LIMIT_S_DEFAULT,
) -> Starlette:
    """The studio on `db`. `token`: what every request must carry (see chaindb.studio.access);
    `time_limit_s`: how long one page may read before it is stopped."""
    from chaindb.studio import (
        chain_pages,
        chart_pages,
        edit_pages,
        ledger_pages,
        migrations_pages,
        table_pages,
    )

    if db.backend == "sqlite" and not write:
        _sqlite_query_only(db)
    routes = [
        Route("/", _home),
        *table_pages.routes(),
        *ledger_pages.routes(),
        *chain_pages.routes(),
        *chart_pages.routes(),
        *edit_pages.routes(),
        *migrations_pages.routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, token=token, write=write)],
        exception_handlers={
            ChaindbError: _chaindb_error,
            sa.exc.SQLAlchemyError: _chaindb_error,
        },
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    app.state.studio = Studio(db, write, templates, time_limit_s)
    return app


def _sqlite_query_only(db: Database) -> None:
    """Every connection of a read-only studio refuses writes in SQLite itself, whatever runs."""
    db.engine.dispose()  # a connection opened before this would miss the pragma

    @sa.event.listens_for(db.engine, "connect")
    def _query_only(dbapi_conn: Any, _record: object) -> None:
        dbapi_conn.execute("PRAGMA query_only = ON")
