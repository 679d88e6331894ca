"""Who may reach the studio and what they may do: loopback unless a token is set, read-only
unless --write, and no request from another site's page.

The studio serves a database's contents with no login of its own, so off the loopback interface
every request must carry CHAINDB_STUDIO_TOKEN (a bearer header, or once as ?token=, which the
browser then keeps as a cookie). On loopback without a token, the Host header must name this
machine: a page elsewhere that rebinds its DNS name to 127.0.0.1 is refused.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from chaindb.errors import ConfigError

TOKEN_ENV = "CHAINDB_STUDIO_TOKEN"
TOKEN_CHARS_MIN = 16
TOKEN_COOKIE = "chaindb_studio_token"
LOCAL_HOST_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
READS = frozenset({"GET", "HEAD"})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def required_token(*, host: str, token: str | None) -> str | None:
    """The token every request must carry, or None (loopback, no token set). Refuses to serve
    beyond this machine without one."""
    if token:
        if len(token) < TOKEN_CHARS_MIN:
            raise ConfigError(f"{TOKEN_ENV} must be at least {TOKEN_CHARS_MIN} characters long")
        return token
    if is_loopback(host):
        return None
    raise ConfigError(
        f"--host {host} serves the database beyond this machine: set {TOKEN_ENV} to a secret of "
        f"at least {TOKEN_CHARS_MIN} characters (python -c 'import secrets; "
        "print(secrets.token_urlsafe())') and open the studio with ?token=<it>"
    )


class Guard:
    """ASGI middleware: the token, the Host header, and writes only with --write."""

    def __init__(self, app: ASGIApp, *, token: str | None, write: bool) -> None:
        self.app = app
        self.token = token
        self.write = write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, request: Request) -> Response | None:
        if self.token is None:
            host = (request.url.hostname or "").lower()
            if host not in LOCAL_HOST_NAMES:
                return PlainTextResponse(f"host {host!r} is not this machine", status_code=421)
        else:
            passed = self._token_refusal(request)
            if passed is not None:
                return passed
        if request.method not in READS:
            return self._write_refusal(request)
        return None

    def _token_refusal(self, request: Request) -> Response | None:
        given = request.query_params.get("token")
        if given is not None and _same(given, self.token):
            # Once in the address bar, then a cookie: links and forms need not carry it.
            response = RedirectResponse(_without_token(request), status_code=303)
            response.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict")
            return response
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if _same(bearer, self.token) or _same(request.cookies.get(TOKEN_COOKIE, ""), self.token):
            return None
        return PlainTextResponse(f"open the studio with ?token=<{TOKEN_ENV}>", status_code=401)

    def _write_refusal(self, request: Request) -> Response | None:
        if not self.write:
            return PlainTextResponse(
                "the studio is read-only: start it with `chaindb studio --write` to edit",
                status_code=403,
            )
        if not _same_origin(request.headers, request.url.netloc):
            return PlainTextResponse("a write from another site's page is refused", 403)
        return None


def _same(given: str, expected: Any) -> bool:
    return bool(given) and secrets.compare_digest(given.encode(), str(expected).encode())


def _same_origin(headers: Headers, netloc: str) -> bool:
    """A browser names the page a form came from (Origin); it must be the studio itself."""
    origin = headers.get("origin")
    return origin is None or origin.split("://", 1)[-1] == netloc


def _without_token(request: Request) -> str:
    query = [(name, value) for name, value in parse_qsl(request.url.query) if name != "token"]
    return request.url.path + (f"?{urlencode(query)}" if query else "")
