"""The least-privilege role seed 001 recommends for the application (PostgreSQL only).

`create_service_role(db, name=..., password=...)`, run as the role that owns the schema (the
one that runs migrations), makes a LOGIN role that may connect, use the public schema, read
and write every table's rows and use its sequences, and nothing else: no CREATE on the schema
(revoked from PUBLIC too), no DROP or ALTER (it owns nothing), no BYPASSRLS (row-level
security applies to it), and only SELECT on chaindb's record of applied migrations. Default
privileges give it the same rights on tables and sequences later migrations create.

The password never travels as text: the SCRAM-SHA-256 verifier PostgreSQL stores is computed
here, so neither the server's statement log nor an error message can show it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import sqlalchemy as sa

from chaindb.database import Database
from chaindb.errors import ChaindbError, InvalidInput

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
SCRAM_ITERATIONS = 4_096  # PostgreSQL's default (scram_iterations)
PASSWORD_CHARS_MIN = 12
# What migrations applied, and their history: read (status, health), never written. (The
# migration lock's row it may write: a migrate it tries then fails on the schema, saying so.)
BOOKKEEPING_TABLES = ("chaindb_migrations", "chaindb_migration_history")


def create_service_role(db: Database, *, name: str, password: str) -> list[str]:
    """Create (or bring up to date) the service role `name`; the statements it ran, with the
    password's verifier shown as '***'. Refused on SQLite, which has no roles."""
    if db.backend != "postgresql":
        raise ChaindbError("roles are PostgreSQL's: SQLite has no roles or grants")
    if not isinstance(name, str) or not _ROLE_NAME.fullmatch(name):
        raise InvalidInput("name", name, "must be a lowercase SQL identifier ([a-z_][a-z0-9_]*)")
    if not isinstance(password, str) or len(password) < PASSWORD_CHARS_MIN or "\x00" in password:
        raise InvalidInput(
            "password", "***", f"must be at least {PASSWORD_CHARS_MIN} characters, without NUL"
        )
    verifier = scram_sha256_verifier(password)
    with db.transaction() as conn:
        database, owner = conn.execute(sa.text("SELECT current_database(), current_user")).one()
        statements = _statements(name, _quoted(conn, database), _quoted(conn, owner))
        for statement in statements:
            conn.exec_driver_sql(statement.replace("{verifier}", verifier))
    return [statement.replace("{verifier}", "***") for statement in statements]


def scram_sha256_verifier(password: str) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802/7677)."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


def _statements(role: str, database: str, owner: str) -> list[str]:
    tables = ", ".join(f"'{table}'" for table in BOOKKEEPING_TABLES)
    return [
        f"""DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role};
    END IF;
END $$""",
        f"ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        f"NOBYPASSRLS PASSWORD '{{verifier}}'",
        f"GRANT CONNECT ON DATABASE {database} TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"""DO $$ DECLARE bookkeeping text; BEGIN
    FOR bookkeeping IN SELECT tablename FROM pg_tables
                       WHERE schemaname = 'public' AND tablename IN ({tables}) LOOP
        EXECUTE 'REVOKE INSERT, UPDATE, DELETE ON ' || quote_ident(bookkeeping)
            || ' FROM {role}';
    END LOOP;
END $$""",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]


def _quoted(conn: sa.Connection, identifier: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(identifier)
