"""Serving the studio with uvicorn."""

from __future__ import annotations

import os

import uvicorn

from chaindb.database import Database
from chaindb.studio.access import TOKEN_ENV, required_token
from chaindb.studio.app import create_app
from chaindb.studio.time_limit import TIME_LIMIT_S_DEFAULT

PORT_DEFAULT = 4983  # Drizzle Studio's: the port people who ran db:studio know


def serve(
    db: Database,
    *,
    host: str = "127.0.0.1",
    port: int = PORT_DEFAULT,
    write: bool = False,
    token: str | None = None,
    time_limit_s: float = TIME_LIMIT_S_DEFAULT,
) -> None:
    """Serve the studio on `db` until interrupted. Another host than loopback needs a token
    (`token`, else CHAINDB_STUDIO_TOKEN)."""
    token = required_token(host=host, token=token or os.environ.get(TOKEN_ENV) or None)
    app = create_app(db, write=write, token=token, time_limit_s=time_limit_s)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
