"""PostgreSQL: a module's format CHECKs (addresses, hashes, signatures, Arweave ids) spelled
the fast way, the rule unchanged.

Up to December 2026 such a CHECK was one anchored regex with a bounded repeat,
`col ~ '^0x[0-9a-f]{64}$'`. PostgreSQL's regex engine takes 3-6 us to match one value that
way, and a CHECK runs on every insert and on every update of its row, whatever the update
changes: with twenty of them on the rows a minting queue job writes, they were a fifth of the
server's time per job (measured). The same rule as a length and an unbounded class,
`length(col) = 66 AND col ~ '^0x[0-9a-f]*$'`, takes about 0.5 us
(types.format_rule_postgresql, which the migrations use from then on).

A database built before keeps the old spelling: each module's migration runs the block below
on its own tables. On the server, it reads each CHECK's definition, rewrites every bounded
atom `(col ~ '^PREFIX[CLASS]{MIN,MAX}$')` into the fast spelling, and replaces the constraint
(same name) when anything changed. Compound patterns (CAIP-2 chain ids, bech32 addresses)
are left as they are. Built from scratch, the tables already have the fast spelling and
nothing is rewritten. The replacement re-checks the table's rows under its ALTER's lock; every
row passes, since the rule is the same. SQLite's spelling was never a regex: nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence

# (col ~ '^PREFIX[CLASS]{MIN[,MAX]}$'::text), col as pg_get_constraintdef writes it.
_ATOM = (
    r"""(\(("?[a-z_][a-z0-9_]*"?|\("?[a-z_][a-z0-9_]*"?\)::text) ~ """
    r"""'\^([0-9a-z]*)\[([^]']+)\]\{([0-9]+)(?:,([0-9]+))?\}\$'::text\))"""
)

_RESPELL = """DO $respell$
DECLARE
    found record;
    spelled text;
    atom text[];
    low integer;
    high integer;
BEGIN
    FOR found IN
        SELECT c.conrelid::regclass AS owner, c.conname, pg_get_constraintdef(c.oid) AS rule
        FROM pg_constraint c
        WHERE c.contype = 'c' AND c.conislocal
          AND c.conrelid IN (SELECT to_regclass(t) FROM unnest(ARRAY[{tables}]) AS t)
    LOOP
        spelled := found.rule;
        LOOP
            atom := regexp_match(spelled, '{atom}');
            EXIT WHEN atom IS NULL;
            low := length(atom[3]) + atom[5]::integer;
            high := length(atom[3]) + coalesce(atom[6], atom[5])::integer;
            spelled := replace(spelled, atom[1], '(' || CASE WHEN low = high
                THEN 'length(' || atom[2] || ') = ' || low
                ELSE 'length(' || atom[2] || ') BETWEEN ' || low || ' AND ' || high END
                || ' AND ' || atom[2] || ' ~ '
                || quote_literal('^' || atom[3] || '[' || atom[4] || ']*$') || ')');
        END LOOP;
        IF spelled <> found.rule THEN
            EXECUTE 'ALTER TABLE ' || found.owner || ' DROP CONSTRAINT '
                || quote_ident(found.conname) || ', ADD CONSTRAINT '
                || quote_ident(found.conname) || ' ' || spelled;
        END IF;
    END LOOP;
END
$respell$"""


def respell_format_checks(tables: Sequence[str]) -> str:
    """The block that respells the format CHECKs of `tables` (PostgreSQL)."""
    names = ", ".join(f"'{table}'" for table in tables)
    return _RESPELL.format(tables=names, atom=_ATOM.replace("'", "''"))
