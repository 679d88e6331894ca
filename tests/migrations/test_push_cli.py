"""`chaindb push`, run as a user runs it: a real process, the declaration in a module of the
application's own (importable from the working directory)."""

from __future__ import annotations

import json
import textwrap

import pytest

from chaindb import migrations
from tests.conftest import run_cli

SCHEMA = """
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("users", metadata, sa.Column("id", sa.String(64), primary_key=True))
sa.Table(
    "app_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id")),
    {columns}
)
not_metadata = 42
"""


@pytest.fixture
def app(tmp_path, core_db, db_url):
    """Writes appschema.py with the given columns; runs chaindb beside it."""

    def declare(columns: str) -> None:
        (tmp_path / "appschema.py").write_text(textwrap.dedent(SCHEMA).format(columns=columns))

    def chaindb(*args: str):
        env = {"CHAINDB_URL": db_url, "PYTHONPATH": str(tmp_path)}
        return run_cli("push", "--schema", "appschema:metadata", *args, env=env)

    declare('sa.Column("body", sa.Text),')
    return declare, chaindb


def test_push_prints_the_sql_and_refuses_data_loss_without_the_flag(app, core_db):
    declare, chaindb = app
    dry = chaindb("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "CREATE TABLE app_notes" in dry.stdout and "-- not pushed: users" in dry.stdout
    assert migrations.status(core_db).pushed_tables == []

    done = chaindb()
    assert done.returncode == 0, done.stderr
    assert "pushed 1 changes" in done.stdout
    with core_db.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO app_notes (body) VALUES ('kept'), ('also kept')")

    declare('sa.Column("title", sa.String(20)),')
    refused = chaindb()
    assert refused.returncode == 1
    assert "drop column app_notes.body (2 non-null values)" in refused.stderr
    assert "--accept-data-loss" in refused.stderr and "Traceback" not in refused.stderr

    accepted = chaindb("--accept-data-loss", "--json")
    assert accepted.returncode == 0, accepted.stderr
    plan = json.loads(accepted.stdout)
    assert plan["applied"] and [c["rows"] for c in plan["data_loss"]] == [2]
    assert "backup before the push" in accepted.stderr
    assert json.loads(chaindb("--json").stdout)["changes"] == []


def test_a_bad_schema_option_is_one_line_naming_it_and_writes_nothing(
    app, core_db, db_url, tmp_path
):
    env = {"CHAINDB_URL": db_url}
    for spec, rule in (
        ("nowhere.at_all:metadata", "cannot be imported"),
        ("appschema", "package.module:attribute"),
    ):
        result = run_cli("push", "--schema", spec, env=env)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"error: schema: '{spec}' is invalid" in result.stderr and rule in result.stderr
    wrong = run_cli(
        "push", "--schema", "appschema:not_metadata", env={**env, "PYTHONPATH": str(tmp_path)}
    )
    assert "must name a SQLAlchemy MetaData" in wrong.stderr
    assert migrations.history(core_db, module="push").entries == []
