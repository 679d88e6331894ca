"""chaindb studio: the database in a browser (`chaindb studio`, the seed's `db:studio`).

    from chaindb import connect, studio
    studio.serve(connect(), port=4983)            # http://127.0.0.1:4983, read-only
    app = studio.create_app(connect(), write=True)  # an ASGI app to mount or test

Pages: every module's tables (typed, filtered, sorted, keyset-paged; a row with its foreign keys
followed both ways), the ledger (balances, transfers with running balance, holds, leaderboard),
migrations (status, history, diagnose). Needs the `studio` extra: pip install 'chaindb[studio]'.
"""

from chaindb.studio.access import TOKEN_ENV, required_token
from chaindb.studio.app import create_app
from chaindb.studio.server import PORT_DEFAULT, serve

__all__ = ["PORT_DEFAULT", "TOKEN_ENV", "create_app", "required_token", "serve"]
