"""The `chaindb` command, run as a user runs it: a real process, exit codes, output."""

from __future__ import annotations

import json

from sqlalchemy.engine import make_url

import chaindb
from tests.conftest import CORE, CORE_HEAD, run_cli


def cli(db_url, *args, stdin=None):
    return run_cli(*args, env={"CHAINDB_URL": db_url}, stdin=stdin)


def create_empty(db_url):
    with chaindb.connect(db_url).connection():  # connecting creates a SQLite file
        pass


def test_commands_that_do_not_migrate_never_create_a_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'typo.sqlite3'}"
    for args in (["status"], ["maintenance", "--check"], ["migrate", "--dry-run"], ["health"]):
        result = cli(url, *args)
        assert result.returncode == 1, args
        assert not (tmp_path / "typo.sqlite3").exists(), args
    assert f"no database at {tmp_path / 'typo.sqlite3'}" in cli(url, "status").stderr


def test_a_command_that_writes_names_its_database_first(db_url):
    result = run_cli("migrate", "--url", db_url)  # --url after the subcommand, too
    assert result.returncode == 0, result.stderr
    shown = make_url(db_url).render_as_string(hide_password=True)
    assert result.stderr.splitlines()[0] == f"database: {shown}"
    assert make_url(db_url).password is None or make_url(db_url).password not in result.stderr


def test_migrate_status_validate(db_url):
    create_empty(db_url)  # only migrate creates a SQLite file
    before = json.loads(cli(db_url, "status", "--json").stdout)
    assert before["modules"][0]["pending"] == CORE
    migrated = cli(db_url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "upgraded core_0001" in migrated.stdout
    status = json.loads(cli(db_url, "status", "--json").stdout)
    core = status["modules"][0]
    assert (core["current"], core["pending"], core["checksums"]) == (CORE_HEAD, [], "ok")
    assert core["applied"][0]["duration_ms"] > 0
    assert status["up_to_date"] is True
    validated = cli(db_url, "validate", "--json")
    assert validated.returncode == 0
    assert json.loads(validated.stdout)["ok"] is True


def test_dry_run_prints_sql_and_applies_nothing(db_url):
    create_empty(db_url)  # a dry run never creates the file
    dry = cli(db_url, "migrate", "--dry-run")
    assert dry.returncode == 0
    assert "-- core_0001 (upgrade)" in dry.stdout
    assert "CREATE TABLE blockchain_transactions" in dry.stdout
    status = json.loads(cli(db_url, "status", "--json").stdout)
    assert status["modules"][0]["applied"] == []


def test_rollback_without_a_terminal_or_force_is_refused(db_url):
    assert cli(db_url, "migrate").returncode == 0
    losing = cli(db_url, "rollback", "base", "--force")  # ledger_assets holds its seed rows
    assert losing.returncode != 0
    assert "--allow-data-loss" in losing.stderr
    assert "drops table ledger_assets and every row in it" in losing.stderr
    refused = cli(db_url, "rollback", "base", "--allow-data-loss", stdin="")
    assert refused.returncode != 0
    assert "--force" in refused.stderr
    assert json.loads(cli(db_url, "status", "--json").stdout)["modules"][0]["current"] == CORE_HEAD
    forced = cli(db_url, "rollback", "base", "--allow-data-loss", "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(cli(db_url, "status", "--json").stdout)["modules"][0]["current"] is None


def test_reset_is_guarded_like_rollback(db_url):
    assert cli(db_url, "migrate").returncode == 0
    assert cli(db_url, "reset", stdin="").returncode != 0
    reset = cli(db_url, "reset", "--force", "--json")
    assert reset.returncode == 0
    run = json.loads(reset.stdout)
    assert (run["action"], run["steps"][-1]["revision"]) == ("reset", "core_0001")
    status = json.loads(cli(db_url, "status", "--json").stdout)
    assert status["modules"][0]["applied"] == []


def test_validate_fails_on_an_edited_migration(db_url, module_folder):
    path = module_folder.write(
        1, "op.create_table('app_e', sa.Column('id', sa.Integer, primary_key=True))"
    )
    assert cli(db_url, "migrate").returncode == 0
    path.write_text(path.read_text() + "\n# edited\n")
    result = cli(db_url, "validate")
    assert result.returncode == 1
    assert f"app_0001 ({path}): file changed since it was applied" in result.stdout


def test_migrate_refuses_destructive_changes_without_the_flag(db_url, module_folder):
    module_folder.write(
        1,
        "op.create_table('app_d', sa.Column('id', sa.Integer, primary_key=True),"
        " sa.Column('n', sa.Text))",
    )
    assert cli(db_url, "migrate").returncode == 0
    module_folder.write(2, "op.drop_column('app_d', 'n')")
    refused = cli(db_url, "migrate")
    assert refused.returncode == 1
    assert "app_0002 drop-column" in refused.stderr
    assert "--allow-data-loss" in refused.stderr
    preview = cli(db_url, "migrate", "--dry-run")  # the SQL to review, and what is refused
    assert preview.returncode == 0, preview.stderr
    assert "-- refused without --allow-data-loss: app_0002 drop-column" in preview.stdout
    assert "DROP COLUMN n" in preview.stdout
    lint = cli(db_url, "lint", "app_0002")
    assert lint.returncode == 1
    lint_json = cli(db_url, "lint", "app_0002", "--json")
    assert lint_json.returncode == 1
    report = json.loads(lint_json.stdout)
    assert (report["ok"], report["counts"]["destructive"]) == (False, 1)
    assert [finding["code"] for finding in report["findings"]] == ["drop-column"]
    assert cli(db_url, "migrate", "--allow-data-loss").returncode == 0


def test_create_then_migrate_to(db_url, module_folder):
    created = cli(db_url, "create", "add thing", "--module", "app")
    assert created.returncode == 0, created.stderr
    assert "app_0001_add_thing.py" in created.stdout
    assert cli(db_url, "migrate", "--to", CORE_HEAD).returncode == 0
    status = json.loads(cli(db_url, "status", "--json").stdout)
    assert {m["name"]: m["pending"] for m in status["modules"]} == {"core": [], "app": ["app_0001"]}


def test_health_reports_and_never_shows_the_password(db_url):
    assert cli(db_url, "migrate").returncode == 0
    result = cli(db_url, "health", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["reachable"] is True and report["healthy"] is True
    assert report["migrations"]["core"] == {
        "current": CORE_HEAD,
        "head": CORE_HEAD,
        "pending": 0,
    }
    assert report["latency_ms"] >= 0
    password = make_url(db_url).password
    if password:
        assert password not in result.stdout + result.stderr
        assert "***" in report["database"]


def test_wrong_password_error_does_not_leak_it(pg_url):
    wrong = (
        make_url(pg_url).set(password="not-the-password-xyz").render_as_string(hide_password=False)
    )
    for args in (("health", "--json"), ("status",), ("migrate",)):
        result = cli(wrong, *args)
        assert result.returncode == 1
        assert "not-the-password-xyz" not in result.stdout + result.stderr
    health = json.loads(cli(wrong, "health", "--json").stdout)
    assert health["reachable"] is False
    assert "password authentication failed" in health["error"]


def test_unreachable_sqlite_file_is_unhealthy(tmp_path):
    result = cli(f"sqlite:///{tmp_path}/absent.sqlite3", "health")
    assert result.returncode == 1
    assert f"no database at {tmp_path}/absent.sqlite3" in result.stdout
    assert not (tmp_path / "absent.sqlite3").exists()


def test_a_bad_url_is_a_clear_error(tmp_path):
    result = cli("mysql://root:hunter2@localhost/x", "status")
    assert result.returncode == 1
    assert "not supported" in result.stderr
    assert "hunter2" not in result.stderr


def test_with_json_an_error_is_json_on_stdout_too(tmp_path, db_url):
    if db_url.startswith("sqlite"):
        broken = f"sqlite:///{tmp_path}/not-a-database.sqlite3"
        (tmp_path / "not-a-database.sqlite3").write_bytes(b"this is not SQLite" * 100)
    else:
        broken = make_url(db_url).set(port=1).render_as_string(hide_password=False)
    result = cli(broken, "maintenance", "--check", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["error"]
    assert result.stderr.splitlines()[-1] in (
        f"error: {report['error']}",
        f"database error: {report['error']}",
    )


def test_every_commands_help_is_plain_and_offers_url():
    """No typer-internal metavars (<bool>, <list[str]>) and --url after any subcommand."""
    import click
    from click.testing import CliRunner

    from chaindb.cli import command

    def leaves(group, path):
        for name, sub in group.commands.items():
            if isinstance(sub, click.Group):
                yield from leaves(sub, [*path, name])
            else:
                yield [*path, name]

    root = command()
    paths = list(leaves(root, []))
    assert len(paths) >= 10
    for path in paths:
        shown = CliRunner().invoke(root, [*path, "-h"], prog_name="chaindb")
        assert shown.exit_code == 0, path
        assert "<bool>" not in shown.output and "<list" not in shown.output, path
        assert "--url" in shown.output, path
    assert run_cli("--version").stdout.startswith("chaindb ")


def test_shell_completion_completes_commands_and_options():
    env = {"_CHAINDB_COMPLETE": "complete_bash", "COMP_WORDS": "chaindb mainten", "COMP_CWORD": "1"}
    assert run_cli(env=env).stdout.split() == ["maintenance"]
    env.update(COMP_WORDS="chaindb maintenance --che", COMP_CWORD="2")
    assert run_cli(env=env).stdout.split() == ["--check", "--checkpoint"]


def test_an_in_memory_database_is_refused_by_the_command():
    for url in ("sqlite://", "sqlite:///:memory:"):
        result = run_cli("migrate", "--url", url)
        assert result.returncode == 1
        assert "in-memory SQLite database" in result.stderr and "upgraded" not in result.stdout


def test_a_missing_table_says_the_database_may_not_be_migrated(tmp_path):
    url = f"sqlite:///{tmp_path}/empty.sqlite3"
    create_empty(url)
    result = cli(url, "ledger", "balance", "user:alice")
    assert result.returncode == 1
    assert "no such table: ledger_accounts (is this database migrated?" in result.stderr


def test_lint_downgrades_names_the_tables_a_rollback_drops(db_url):
    linted = cli(db_url, "lint", "--downgrades", "games_0007", "--json")
    findings = json.loads(linted.stdout)["findings"]
    assert {f["table"] for f in findings if f["kind"] == "destructive"} == {
        "performance_metrics",
        "performance_metric_rollups",
    }
