"""Relative targets: `migrate --to +N`, `rollback -N` / `--steps N`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from chaindb import InvalidInput, MigrationError, migrations
from tests.conftest import CORE, run_cli


def write_three(module_folder):
    for number in (1, 2, 3):
        module_folder.write(
            number,
            f"op.create_table('app_n{number}', sa.Column('id', sa.Integer, primary_key=True))",
            f"op.drop_table('app_n{number}')",
        )


def applied(db) -> set[str]:
    return {s.revision for m in migrations.status(db).modules for s in m.applied}


def test_migrate_plus_n_applies_the_next_n_in_order(db, module_folder):
    write_three(module_folder)
    assert [s.revision for s in migrations.migrate(db, to="+2").steps] == CORE[:2]
    run = migrations.migrate(db, steps=len(CORE))
    assert [s.revision for s in run.steps] == [*CORE[2:], "app_0001", "app_0002"]
    assert [s.revision for s in migrations.migrate(db, to="+1").steps] == ["app_0003"]


def test_rollback_minus_n_undoes_the_most_recently_applied(db, module_folder):
    """Not the last in dependency order: the last applied (core moved on after app_0001)."""
    write_three(module_folder)
    migrations.migrate(db, to="app_0001")  # needs core_0001 only
    migrations.migrate(db, modules=["core"])
    assert [s.revision for s in migrations.rollback(db, "-1").steps] == [CORE[-1]]
    run = migrations.rollback(db, steps=len(CORE) - 1)
    assert [s.revision for s in run.steps] == [*reversed(CORE[1:-1]), "app_0001"]
    assert applied(db) == {CORE[0]}


def test_rollback_minus_n_of_a_module_takes_what_needs_it(db, module_folder):
    write_three(module_folder)
    migrations.migrate(db)
    run = migrations.rollback(db, "-1", module="app")
    assert [s.revision for s in run.steps] == ["app_0003"]
    run = migrations.rollback(db, steps=len(CORE), module="core")
    assert [s.revision for s in run.steps] == ["app_0002", "app_0001", *reversed(CORE)]
    assert applied(db) == set()


def test_relative_targets_past_the_end_are_refused_and_change_nothing(db, module_folder):
    write_three(module_folder)
    migrations.migrate(db, to=CORE[-1])
    with pytest.raises(MigrationError, match="cannot apply 4 migrations: 3 are pending"):
        migrations.migrate(db, to="+4")
    with pytest.raises(MigrationError, match=f"cannot roll back 9 migrations: {len(CORE)} are"):
        migrations.rollback(db, "-9")
    with pytest.raises(MigrationError, match="cannot roll back 2 migrations of app: 0 are"):
        migrations.rollback(db, steps=2, module="app")
    with pytest.raises(InvalidInput, match="not both"):
        migrations.rollback(db, "-1", steps=1)
    with pytest.raises(InvalidInput, match="steps"):
        migrations.migrate(db, steps=0)
    with pytest.raises(MigrationError, match="rollback needs a target"):
        migrations.rollback(db)
    assert applied(db) == set(CORE)


def test_relative_targets_on_the_command_line(db_url, module_folder):
    env = {"CHAINDB_URL": db_url}
    write_three(module_folder)
    assert run_cli("migrate", "--to", "+1", env=env).returncode == 0
    assert run_cli("migrate", env=env).returncode == 0
    plan = run_cli("rollback", "-2", "--dry-run", "--json", env=env)
    assert plan.returncode == 0, plan.stderr
    assert [s["revision"] for s in json.loads(plan.stdout)["steps"]] == ["app_0003", "app_0002"]
    done = run_cli("rollback", "-2", "--force", env=env)
    assert done.returncode == 0, done.stderr
    assert "downgraded app_0003" in done.stdout and "downgraded app_0002" in done.stdout
    assert run_cli("rollback", "--steps", "1", "--force", env=env).returncode == 0
    history = json.loads(run_cli("history", "--json", "-n", "3", env=env).stdout)["entries"]
    assert [(e["revision"], e["action"]) for e in history] == [
        ("app_0003", "downgrade"),
        ("app_0002", "downgrade"),
        ("app_0001", "downgrade"),
    ]


ALLOW = ["--allow-data-loss"]


def with_rows(module_folder):
    module_folder.write(
        1,
        """
        op.create_table('app_notes', sa.Column('id', sa.Integer, primary_key=True))
        op.execute("INSERT INTO app_notes (id) VALUES (1), (2), (3)")
        op.create_table('app_tags', sa.Column('id', sa.Integer, primary_key=True))
        """,
        "op.drop_table('app_tags')\nop.drop_table('app_notes')",
    )


def test_the_confirmation_says_what_goes(db_url, module_folder):
    env = {"CHAINDB_URL": db_url}
    with_rows(module_folder)
    assert run_cli("migrate", env=env).returncode == 0
    refused = run_cli("rollback", "base", "--module", "app", "--allow-data-loss", env=env, stdin="")
    assert refused.returncode == 1
    assert "undo 1 migration (app 1), dropping app_notes (3 rows) and 1 empty table." in (
        refused.stderr
    )
    reset = run_cli("reset", env=env, stdin="")
    assert reset.returncode == 1
    expected_modules = f"(app 1, core {len(CORE)})"
    assert f"undo {len(CORE) + 1} migrations {expected_modules}" in reset.stderr
    assert "app_notes (3 rows)" in reset.stderr
    assert f"chaindb's migration history ({len(CORE) + 1} entries)" in reset.stderr
    assert json.loads(run_cli("status", "--json", env=env).stdout)["up_to_date"] is True


@pytest.mark.parametrize("answer", ["n", "y"])
def test_at_a_terminal_the_question_is_asked_and_answered(db_url, module_folder, answer):
    """A real terminal (a pty) on stdin: the prompt shows what goes; only 'y' rolls back."""
    with_rows(module_folder)
    env = {**os.environ, "CHAINDB_URL": db_url}
    assert run_cli("migrate", env=env).returncode == 0
    controller, terminal = os.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "chaindb", "rollback", "base", "--module", "app", *ALLOW],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.write(controller, f"{answer}\n".encode())
    out, err = child.communicate(timeout=120)
    os.close(controller)
    os.close(terminal)
    assert "dropping app_notes (3 rows) and 1 empty table. Continue? [y/N]" in out
    status = json.loads(run_cli("status", "--json", env=env).stdout)
    app = next(m for m in status["modules"] if m["name"] == "app")
    assert app["current"] == (None if answer == "y" else "app_0001")
    assert child.returncode == (0 if answer == "y" else 1), err
