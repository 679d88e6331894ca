"""What a table carries that `CREATE TABLE (LIKE ...)` does not copy, read from PostgreSQL's
catalog before a conversion to partitions changes anything (ops/partitions_postgres.py): its
keys and indexes, foreign keys both ways, triggers, row-level security, grants, comment and
the views over it, each as the statement that puts it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.errors import InvalidInput


@dataclass
class TableShape:
    """What a table carries that `CREATE TABLE (LIKE ...)` does not copy."""

    primary_key: tuple[str, list[str]]  # name, columns
    local_uniques: list[tuple[str, list[str]]] = field(default_factory=list)
    global_uniques: list[tuple[str, list[str]]] = field(default_factory=list)
    index_constraints: list[str] = field(default_factory=list)  # names, dropped from the old
    indexes: list[tuple[str, str]] = field(default_factory=list)  # name, CREATE INDEX ...
    outgoing_keys: list[tuple[str, str]] = field(default_factory=list)  # name, definition
    incoming_keys: list[tuple[str, str, str]] = field(default_factory=list)  # table, name, def
    triggers: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    security: list[str] = field(default_factory=list)  # ALTER TABLE ... ROW LEVEL SECURITY
    grants: list[str] = field(default_factory=list)
    comment: str | None = None
    views: list[ViewShape] = field(default_factory=list)

    @property
    def needs_keys(self) -> bool:
        return bool(self.global_uniques or self.incoming_keys)


@dataclass
class ViewShape:
    name: str
    depth: int
    definition: str
    options: list[str]
    extras: list[str]  # its triggers, rules, grants, comment, as statements


def capture(conn: Connection, table: str, column: str) -> TableShape:
    """Everything to rebuild on the partitioned table (read before anything changes)."""
    oid = conn.execute(sa.text("SELECT CAST(:t AS regclass)::oid"), {"t": table}).scalar_one()
    constraints = conn.execute(
        sa.text(
            "SELECT conname, contype, pg_get_constraintdef(oid),"
            " ARRAY(SELECT attname FROM unnest(conkey) WITH ORDINALITY k(n, i)"
            "  JOIN pg_attribute a ON a.attrelid = conrelid AND a.attnum = k.n ORDER BY k.i)"
            " FROM pg_constraint WHERE conrelid = :oid AND contype IN ('p', 'u', 'f', 'x')"
        ),
        {"oid": oid},
    ).all()
    primary = next(((n, list(cols)) for n, kind, _d, cols in constraints if kind == "p"), None)
    if primary is None:
        raise InvalidInput("table", table, "has no primary key to partition by")
    shape = TableShape(primary_key=primary)
    for name, kind, definition, columns in constraints:
        if kind in ("p", "u", "x"):
            shape.index_constraints.append(name)
        if kind == "u":
            target = shape.local_uniques if column in columns else shape.global_uniques
            target.append((name, list(columns)))
        elif kind == "f" and f"REFERENCES {table}(" not in definition:
            shape.outgoing_keys.append((name, definition))
        elif kind == "x":
            raise InvalidInput("table", table, f"has an exclusion constraint ({name})")
    shape.incoming_keys = [
        (referrer, name, definition)
        for referrer, name, definition in conn.execute(
            sa.text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE contype = 'f' AND confrelid = :oid"
            ),
            {"oid": oid},
        )
    ]
    shape.indexes = [
        (name, definition)
        for name, definition in conn.execute(
            sa.text(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = :oid"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
            ),
            {"oid": oid},
        )
    ]
    shape.triggers = _triggers(conn, oid)
    shape.policies, shape.security = _row_security(conn, oid, table)
    shape.grants = _grants(conn, oid, table)
    shape.comment = conn.execute(
        sa.text("SELECT obj_description(:oid, 'pg_class')"), {"oid": oid}
    ).scalar_one()
    shape.views = _views(conn, oid)
    return shape


def _triggers(conn: Connection, oid: int) -> list[str]:
    return list(
        conn.execute(
            sa.text(
                "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = :oid"
                " AND NOT tgisinternal ORDER BY tgname"
            ),
            {"oid": oid},
        ).scalars()
    )


def _row_security(conn: Connection, oid: int, name: str) -> tuple[list[str], list[str]]:
    q = conn.dialect.identifier_preparer.quote
    enabled, forced = conn.execute(
        sa.text("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = :oid"),
        {"oid": oid},
    ).one()
    security = [f"ALTER TABLE {q(name)} ENABLE ROW LEVEL SECURITY"] if enabled else []
    security += [f"ALTER TABLE {q(name)} FORCE ROW LEVEL SECURITY"] if forced else []
    policies = []
    for policy, permissive, roles, command, using, checked in conn.execute(
        sa.text(
            "SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies"
            " WHERE schemaname = current_schema() AND tablename = :t"
        ),
        {"t": name},
    ):
        to = ", ".join(r if r == "public" else q(r) for r in roles)
        statement = f"CREATE POLICY {q(policy)} ON {q(name)} AS {permissive} FOR {command} TO {to}"
        statement += f" USING ({using})" if using else ""
        statement += f" WITH CHECK ({checked})" if checked else ""
        policies.append(statement)
    return policies, security


def _grants(conn: Connection, oid: int, name: str) -> list[str]:
    q = conn.dialect.identifier_preparer.quote
    rows = conn.execute(
        sa.text(
            "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,"
            " a.privilege_type FROM pg_class c, aclexplode(c.relacl) a"
            " WHERE c.oid = :oid AND a.grantee <> c.relowner"
        ),
        {"oid": oid},
    ).all()
    return [
        f"GRANT {privilege} ON {q(name)} TO {grantee if grantee == 'PUBLIC' else q(grantee)}"
        for grantee, privilege in rows
    ]


_DEPENDENT_VIEWS = """
WITH RECURSIVE deps(oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = :oid AND r.ev_class <> :oid
    UNION ALL
    SELECT r.ev_class, deps.depth + 1 FROM deps
    JOIN pg_depend d ON d.refobjid = deps.oid AND d.classid = 'pg_rewrite'::regclass
    JOIN pg_rewrite r ON r.oid = d.objid
    WHERE r.ev_class <> deps.oid AND deps.depth < 20
)
SELECT c.oid, c.relname, c.relkind, max(deps.depth), pg_get_viewdef(c.oid),
       coalesce(c.reloptions, '{}')
FROM deps JOIN pg_class c ON c.oid = deps.oid
GROUP BY c.oid, c.relname, c.relkind, c.reloptions
"""


def _views(conn: Connection, oid: int) -> list[ViewShape]:
    q = conn.dialect.identifier_preparer.quote
    views = []
    for view_oid, name, kind, depth, definition, options in conn.execute(
        sa.text(_DEPENDENT_VIEWS), {"oid": oid}
    ):
        if kind != "v":
            raise InvalidInput(
                "table", name, "is a materialized view over the table: drop it first"
            )
        rules = conn.execute(
            sa.text(
                "SELECT definition FROM pg_rules WHERE schemaname = current_schema()"
                " AND tablename = :t"
            ),
            {"t": name},
        ).scalars()
        comment = conn.execute(
            sa.text("SELECT obj_description(:oid, 'pg_class')"), {"oid": view_oid}
        ).scalar_one()
        extras = _triggers(conn, view_oid) + list(rules) + _grants(conn, view_oid, name)
        if comment:
            extras.append(f"COMMENT ON VIEW {q(name)} IS {literal(comment)}")
        views.append(ViewShape(name, depth, definition, list(options), extras))
    return views


def partition_column(conn: Connection, table: str) -> str:
    return conn.execute(
        sa.text(
            "SELECT a.attname FROM pg_partitioned_table p JOIN pg_attribute a"
            " ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
            " WHERE p.partrelid = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).scalar_one()


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def copy_statistics_targets(conn: Connection, source: str, target: str) -> None:
    """The columns' statistics targets set on `source` (ALTER COLUMN ... SET STATISTICS: the
    ledger's ledger_0005), onto `target`'s columns of the same names: neither CREATE TABLE
    (LIKE ...) nor PARTITION OF copies them, and autoanalyze samples each partition."""
    q = conn.dialect.identifier_preparer.quote
    targets = conn.execute(
        sa.text(
            "SELECT s.attname, s.attstattarget FROM pg_attribute s JOIN pg_attribute t"
            " ON t.attrelid = CAST(:target AS regclass) AND t.attname = s.attname"
            " AND t.attnum > 0 AND NOT t.attisdropped"
            " WHERE s.attrelid = CAST(:source AS regclass) AND s.attnum > 0"
            " AND NOT s.attisdropped AND s.attstattarget >= 0 ORDER BY s.attnum"
        ),
        {"source": q(source), "target": q(target)},
    ).all()
    if targets:
        changes = ", ".join(f"ALTER COLUMN {q(name)} SET STATISTICS {n}" for name, n in targets)
        conn.exec_driver_sql(f"ALTER TABLE {q(target)} {changes}")
