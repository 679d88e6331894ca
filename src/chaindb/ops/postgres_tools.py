"""PostgreSQL's own programs (pg_dump, pg_restore), the right version, given a URL safely.

The client must be of the server's major version: a newer pg_dump writes SQL an older server
refuses (pg_dump 17 emits `SET transaction_timeout`), an older one refuses a newer server. It is
looked for next to a server of that version (Debian: /usr/lib/postgresql/<major>/bin), then on
the PATH. The password goes to the program in its environment, never on its command line
(which any user of the machine can read).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from chaindb.errors import ConfigError

SERVER_BINARIES = "/usr/lib/postgresql/{major}/bin"
VERSION_PROBE_TIMEOUT_S = 10
# URL query parameters libpq takes as environment variables.
_LIBPQ_PARAMETERS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslpassword": "PGSSLPASSWORD",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "password": "PGPASSWORD",
}


def major_of(version: str) -> int:
    """15 of '15.18 (Debian 15.18-0+deb12u1)' or of 'pg_dump (PostgreSQL) 15.18'."""
    match = re.search(r"(\d+)(?:\.\d+)?", version)
    if match is None:
        raise ConfigError(f"cannot read a PostgreSQL version from {version!r}")
    return int(match[1])


def postgres_tool(name: str, server_version: str) -> Path:
    """The path of `name` (pg_dump, pg_restore) of the server's major version."""
    major = major_of(server_version)
    candidates = [Path(SERVER_BINARIES.format(major=major)) / name]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK) and _major(candidate) == major:
            return candidate
    raise ConfigError(
        f"{name} {major} is needed (the server is PostgreSQL {server_version}): install the "
        f"PostgreSQL {major} client programs (Debian: postgresql-client-{major})"
    )


def libpq_environment(url: URL) -> dict[str, str]:
    """The environment that points libpq at `url`: host, port, user, database, password and
    the URL's SSL options, beside the caller's own environment."""
    environment = dict(os.environ)
    for variable, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGDATABASE", url.database),
        ("PGPASSWORD", url.password),
    ):
        if value is not None:
            environment[variable] = str(value)
    for name, value in url.query.items():
        variable = _LIBPQ_PARAMETERS.get(name)
        if variable is not None and isinstance(value, str):
            environment[variable] = value
    return environment


def _major(program: Path) -> int | None:
    try:
        ran = subprocess.run(
            [str(program), "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_PROBE_TIMEOUT_S,
            check=False,
        )
    except OSError:
        return None
    return major_of(ran.stdout) if ran.returncode == 0 else None
