"""PostgreSQL: a module's format CHECKs (addresses, hashes, signatures, Arweave ids) respelled,
the rules unchanged.

The migrations before 2026-12-02 spell such a CHECK as one anchored regex with a bounded
repeat, `col ~ '^0x[0-9a-f]{64}$'`, and keep that spelling (what a migration builds never
changes). PostgreSQL's regex engine takes 3-6 us to match one value that way, and a CHECK runs
on every insert and on every update of its row, whatever the update changes: with twenty of
them on the rows a minting queue job writes, they were a fifth of the server's time per job
(measured). The same rule as a length and an unbounded class,
`length(col) = 66 AND col ~ '^0x[0-9a-f]*$'`, takes about 0.5 us
(types.format_rule_postgresql).

Each module's *_fast_format_checks migration runs the block below on its own tables. On the
server it reads each CHECK's definition, rewrites every atom of one spelling into the other
(fast: `(col ~ '^PREFIX[CLASS]{MIN,MAX}$')` into the length and the class; back: the reverse),
and replaces a table's changed CHECKs, same names, in one ALTER TABLE (one scan of its rows,
under the ALTER's lock; every row passes, the rules being the same). Compound patterns
(CAIP-2 chain ids, bech32 addresses) are left as they are. SQLite's spelling was never a
regex: nothing to do there.
"""

from __future__ import annotations

from collections.abc import Sequence

# A column as pg_get_constraintdef writes it: `name`, or `(name)::text` for a VARCHAR.
_COLUMN = r'("?[a-z_][a-z0-9_]*"?|\("?[a-z_][a-z0-9_]*"?\)::text)'
# (col ~ '^PREFIX[CLASS]{MIN[,MAX]}$'::text): 1 atom, 2 col, 3 prefix, 4 class, 5 min, 6 max
_BOUNDED = rf"(\({_COLUMN} ~ '\^([0-9a-z]*)\[([^]']+)\]\{{([0-9]+)(?:,([0-9]+))?\}}\$'::text\))"
# The fast spelling as PostgreSQL prints it back (BETWEEN becomes >= and <=), one length:
# 1 atom, 2 col, 3 length, 4 prefix, 5 class; a range: 1 atom, 2 col, 3 min, 4 max, 5 prefix,
# 6 class.
_CLASS = r"'\^([0-9a-z]*)\[([^]']+)\]\*\$'::text"
_ONE_LENGTH = rf"(\(\(length\({_COLUMN}\) = ([0-9]+)\) AND \(\2 ~ {_CLASS}\)\))"
_LENGTHS = (
    rf"(\(\(\(length\({_COLUMN}\) >= ([0-9]+)\) AND \(length\(\2\) <= ([0-9]+)\)\) "
    rf"AND \(\2 ~ {_CLASS}\)\))"
)

_TO_FAST = """
            LOOP
                atom := regexp_match(spelled, @BOUNDED@);
                EXIT WHEN atom IS NULL;
                low := length(atom[3]) + atom[5]::integer;
                high := length(atom[3]) + coalesce(atom[6], atom[5])::integer;
                spelled := replace(spelled, atom[1], '(' || CASE WHEN low = high
                    THEN 'length(' || atom[2] || ') = ' || low
                    ELSE 'length(' || atom[2] || ') BETWEEN ' || low || ' AND ' || high END
                    || ' AND ' || atom[2] || ' ~ '
                    || quote_literal('^' || atom[3] || '[' || atom[4] || ']*$') || ')');
            END LOOP;"""

_TO_BOUNDED = """
            LOOP
                atom := regexp_match(spelled, @ONE_LENGTH@);
                EXIT WHEN atom IS NULL;
                spelled := replace(spelled, atom[1], '(' || atom[2] || ' ~ '
                    || quote_literal('^' || atom[4] || '[' || atom[5] || ']{'
                        || atom[3]::integer - length(atom[4]) || '}$') || ')');
            END LOOP;
            LOOP
                atom := regexp_match(spelled, @LENGTHS@);
                EXIT WHEN atom IS NULL;
                spelled := replace(spelled, atom[1], '(' || atom[2] || ' ~ '
                    || quote_literal('^' || atom[5] || '[' || atom[6] || ']{'
                        || atom[3]::integer - length(atom[5]) || ','
                        || atom[4]::integer - length(atom[5]) || '}$') || ')');
            END LOOP;"""

_RESPELL = """DO $respell$
DECLARE
    target regclass;
    found record;
    spelled text;
    atom text[];
    low integer;
    high integer;
    changes text;
BEGIN
    FOR target IN SELECT to_regclass(t) FROM unnest(ARRAY[@TABLES@]) AS t LOOP
        changes := '';
        FOR found IN
            SELECT conname, pg_get_constraintdef(oid) AS rule FROM pg_constraint
            WHERE contype = 'c' AND conislocal AND conrelid = target ORDER BY conname
        LOOP
            spelled := found.rule;@REWRITE@
            IF spelled <> found.rule THEN
                changes := changes || ', DROP CONSTRAINT ' || quote_ident(found.conname)
                    || ', ADD CONSTRAINT ' || quote_ident(found.conname) || ' ' || spelled;
            END IF;
        END LOOP;
        IF changes <> '' THEN
            EXECUTE 'ALTER TABLE ' || target || substr(changes, 2);
        END IF;
    END LOOP;
END
$respell$"""


def respell_format_checks(tables: Sequence[str], *, fast: bool) -> str:
    """The block that respells the format CHECKs of `tables` (PostgreSQL): fast=True into the
    length and the class, fast=False back into the bounded repeat."""
    rewrite = _TO_FAST if fast else _TO_BOUNDED
    for marker, pattern in (
        ("@BOUNDED@", _BOUNDED),
        ("@ONE_LENGTH@", _ONE_LENGTH),
        ("@LENGTHS@", _LENGTHS),
    ):
        # Dollar-quoted: its backslashes mean the same whatever standard_conforming_strings.
        rewrite = rewrite.replace(marker, f"$pattern${pattern}$pattern$")
    names = ", ".join(f"'{table}'" for table in tables)
    return _RESPELL.replace("@TABLES@", names).replace("@REWRITE@", rewrite)
