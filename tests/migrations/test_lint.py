"""lint names destructive and long-locking changes; no database is needed to run it."""

from __future__ import annotations

from chaindb import migrations
from chaindb.migrations.lint import lint_statements


def codes(findings):
    return sorted((f.revision, f.code, f.kind) for f in findings)


def test_the_core_migrations_are_clean():
    """Nothing destructive or locking; core_0005's widening, assets_0003's index and
    assets_0006's looser CHECK are flagged, and explained by their migrations
    (LINT_REVIEWED), so they refuse nothing."""
    findings = migrations.lint()
    assert {(f.revision, f.code, f.kind) for f in findings} == {
        ("assets_0003", "index-not-concurrent", "reviewed"),
        ("assets_0006", "drop-constraint", "reviewed"),
        ("core_0005", "type-change", "reviewed"),
        ("core_0005", "drop-constraint", "reviewed"),
        ("core_0005", "constraint-not-valid", "reviewed"),
    }
    assert all("(reviewed: " in f.message for f in findings)


def test_destructive_changes_are_named(module_folder):
    module_folder.write(
        1,
        """
        op.create_table('app_users', sa.Column('id', sa.Integer, primary_key=True),
                        sa.Column('email', sa.Text), sa.Column('age', sa.Integer),
                        sa.Column('nick', sa.Text, server_default='x'))
        """,
    )
    module_folder.write(2, "op.drop_column('app_users', 'email')")
    module_folder.write(3, "op.alter_column('app_users', 'age', type_=sa.BigInteger)")
    module_folder.write(4, "op.alter_column('app_users', 'age', nullable=False)")
    module_folder.write(5, "op.alter_column('app_users', 'nick', server_default=None)")
    module_folder.write(6, "op.drop_table('app_users')")
    module_folder.write(7, "op.execute('DELETE FROM settings')")
    findings = migrations.lint(
        ["app_0002", "app_0003", "app_0004", "app_0005", "app_0006", "app_0007"]
    )
    assert codes(findings) == [
        ("app_0002", "drop-column", "destructive"),
        ("app_0003", "type-change", "destructive"),
        ("app_0004", "set-not-null", "destructive"),
        ("app_0005", "drop-default", "destructive"),
        ("app_0006", "drop-table", "destructive"),
        ("app_0007", "delete-rows", "destructive"),
    ]
    assert "drops a column of app_users" in str(findings[0])


def test_long_locking_changes_on_existing_tables_are_named(module_folder):
    module_folder.write(
        1, "op.create_index('ix_tx_hash', 'blockchain_transactions', ['block_hash'])"
    )
    module_folder.write(2, "op.add_column('users', sa.Column('tier', sa.Integer, nullable=False))")
    module_folder.write(
        3,
        "op.create_foreign_key('fk_tx_wallet', 'blockchain_transactions', 'users',"
        " ['user_id'], ['id'])",
    )
    module_folder.write(
        4,
        "op.create_index('ix_tx_block_c', 'blockchain_transactions', ['block_hash'],"
        " postgresql_concurrently=True)",
    )
    module_folder.write(
        5,
        "op.add_column('users',"
        " sa.Column('level', sa.Integer, nullable=False, server_default='0'))",
    )
    assert codes(migrations.lint(["app_0001", "app_0002", "app_0003", "app_0004", "app_0005"])) == [
        ("app_0001", "index-not-concurrent", "locking"),
        ("app_0002", "add-not-null-column", "locking"),
        ("app_0003", "constraint-not-valid", "locking"),
    ]


def test_changes_to_a_table_created_in_the_same_migration_are_not_locking():
    statements = [
        "CREATE TABLE fresh (id INTEGER NOT NULL, PRIMARY KEY (id))",
        "CREATE INDEX ix_fresh ON fresh (id)",
        "DROP TABLE fresh",
    ]
    assert lint_statements("x_0001", statements) == []


def test_renames_and_dropped_constraints_are_destructive():
    statements = [
        "ALTER TABLE users RENAME TO people",
        "ALTER TABLE users RENAME username TO handle",
        "ALTER TABLE users DROP CONSTRAINT uq_users_username",
    ]
    assert [f.code for f in lint_statements("x_0001", statements)] == [
        "rename-table",
        "rename-column",
        "drop-constraint",
    ]


def test_a_migration_that_reads_the_database_is_reported_unchecked(module_folder):
    module_folder.write(1, "assert op.get_bind().execute(sa.text('SELECT 1')).scalar() == 1")
    findings = migrations.lint(["app_0001"])
    assert [(f.code, f.kind) for f in findings] == [("not-rendered", "unchecked")]
