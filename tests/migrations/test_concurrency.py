"""Many processes running `chaindb migrate` at once: each migration applied exactly once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from chaindb import migrations
from chaindb.migrations.bookkeeping import HISTORY_TABLE
from tests.conftest import CORE

PROCESSES = 8


@pytest.mark.slow
def test_eight_concurrent_migrate_processes_apply_each_migration_once(db, db_url, module_folder):
    for number in (1, 2, 3, 4):
        # A slow step keeps the others waiting on the lock while it runs.
        module_folder.write(
            number,
            f"""
            import time
            time.sleep(0.3 if not op.get_context().as_sql else 0)
            op.create_table('app_c{number}', sa.Column('id', sa.Integer, primary_key=True))
            op.execute("INSERT INTO app_c{number} (id) VALUES (1)")
            """,
        )
    env = {**os.environ, "CHAINDB_URL": db_url}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "chaindb", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    results = [(child.wait(timeout=300), *child.communicate()) for child in children]
    failures = [(code, err) for code, _out, err in results if code != 0]
    assert failures == []

    with db.read() as conn:
        applied = conn.execute(
            sa.text(
                f"SELECT revision, count(*) FROM {HISTORY_TABLE} "
                "WHERE action = 'upgrade' GROUP BY revision ORDER BY revision"
            )
        ).all()
        rows_per_table = [
            conn.execute(sa.text(f"SELECT count(*) FROM app_c{n}")).scalar_one()
            for n in (1, 2, 3, 4)
        ]
    expected = sorted([(f"app_000{n}", 1) for n in (1, 2, 3, 4)] + [(rev, 1) for rev in CORE])
    assert [tuple(row) for row in applied] == expected
    assert rows_per_table == [1, 1, 1, 1]
    assert migrations.validate(db).ok
    stdout_all = "".join(out for _code, out, _err in results)
    assert stdout_all.count("upgraded app_0003") == 1
