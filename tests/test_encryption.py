"""Encrypted SQLite (seed 002's security item): CHAINDB_SQLITE_KEY encrypts the embedded
database with SQLCipher. (The whole suite also runs encrypted: CHAINDB_TEST_SQLITE_KEY.)"""

from __future__ import annotations

import gzip
import sqlite3
import sys

import pytest

import chaindb
from chaindb import ConfigError, EncryptionKeyError, core, migrations
from chaindb.ops.backup import backup
from chaindb.ops.restore import restore
from tests.conftest import run_cli

KEY = "correct horse battery staple"
SQLITE_HEADER = b"SQLite format 3\x00"


@pytest.fixture
def encrypted(tmp_path, monkeypatch):
    """A migrated database encrypted with KEY, with a user; CHAINDB_SQLITE_KEY set to KEY."""
    monkeypatch.setenv("CHAINDB_SQLITE_KEY", KEY)
    path = tmp_path / "secret.sqlite3"
    db = chaindb.connect(f"sqlite:///{path}")
    migrations.migrate(db)
    core.create_user(db, "alice", "alice")
    db.close()
    return path


def test_the_file_is_encrypted_and_reads_back_with_the_key(encrypted):
    assert not encrypted.read_bytes().startswith(SQLITE_HEADER)
    with pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
        sqlite3.connect(encrypted).execute("SELECT * FROM users").fetchall()
    db = chaindb.connect(f"sqlite:///{encrypted}")
    assert core.get_user(db, "alice").username == "alice"
    db.close()


def test_opening_it_without_the_key_says_it_is_encrypted(encrypted, monkeypatch):
    monkeypatch.delenv("CHAINDB_SQLITE_KEY")
    db = chaindb.connect(f"sqlite:///{encrypted}")
    with pytest.raises(EncryptionKeyError, match=r"it is encrypted .*set CHAINDB_SQLITE_KEY"):
        core.get_user(db, "alice")
    db.close()
    shown = run_cli("status", "--url", f"sqlite:///{encrypted}", env={"CHAINDB_SQLITE_KEY": ""})
    assert shown.returncode == 1 and "it is encrypted" in shown.stderr
    assert "ERROR CORE" not in shown.stderr  # SQLCipher's own log stays quiet


def test_a_wrong_key_is_a_clear_error_that_never_shows_a_key(encrypted, monkeypatch):
    monkeypatch.setenv("CHAINDB_SQLITE_KEY", "wrong key")
    db = chaindb.connect(f"sqlite:///{encrypted}")
    with pytest.raises(EncryptionKeyError, match="CHAINDB_SQLITE_KEY: the key is wrong") as error:
        core.get_user(db, "alice")
    assert "wrong key" not in str(error.value) and "wrong key" not in repr(db.settings)
    db.close()
    shown = run_cli("status", "--url", f"sqlite:///{encrypted}")
    assert shown.returncode == 1 and "the key is wrong" in shown.stderr
    assert "wrong key" not in shown.stderr + shown.stdout


def test_a_key_for_a_plain_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAINDB_SQLITE_KEY", raising=False)
    path = tmp_path / "plain.sqlite3"
    db = chaindb.connect(f"sqlite:///{path}")
    migrations.migrate(db)
    db.close()
    assert path.read_bytes().startswith(SQLITE_HEADER)
    monkeypatch.setenv("CHAINDB_SQLITE_KEY", KEY)
    db = chaindb.connect(f"sqlite:///{path}")
    with pytest.raises(EncryptionKeyError, match="or the file is not encrypted"):
        migrations.status(db)
    db.close()


def test_the_commands_work_on_an_encrypted_database(encrypted):
    url = f"sqlite:///{encrypted}"
    for command in (["status"], ["validate"], ["maintenance", "--check", "--checkpoint"]):
        shown = run_cli(*command, "--url", url)
        assert shown.returncode == 0, (command, shown.stderr)
    shown = run_cli("query", "SELECT username FROM users", "--json", "--url", url)
    assert shown.returncode == 0 and "alice" in shown.stdout


def test_a_backup_stays_encrypted_and_restores_with_the_key(encrypted, tmp_path, monkeypatch):
    db = chaindb.connect(f"sqlite:///{encrypted}")
    made = backup(db, directory=tmp_path / "backups")
    with gzip.open(made.path) as packed:
        assert not packed.read(16).startswith(SQLITE_HEADER)
    core.create_user(db, "bob", "bob")
    restore(made.path, to=db, clean=True)
    assert core.get_user(db, "alice") and core.get_user(db, "bob") is None
    db.close()
    monkeypatch.setenv("CHAINDB_SQLITE_KEY", "another key")
    other = chaindb.connect(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    migrations.migrate(other)
    with pytest.raises(chaindb.ChaindbError, match="the key is wrong"):
        restore(made.path, to=other, clean=True)
    other.close()


def test_a_key_without_sqlcipher_installed_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlcipher3", None)  # as if not installed
    settings = chaindb.Settings(sqlite_key=KEY)
    with pytest.raises(ConfigError, match=r"pip install 'chaindb\[sqlcipher\]'"):
        chaindb.connect(f"sqlite:///{tmp_path / 'x.sqlite3'}", settings=settings)


def test_a_raw_key_skips_the_derivation_and_a_malformed_one_is_refused(tmp_path):
    raw = chaindb.Settings(sqlite_key="x'" + "2d" * 32 + "'")
    db = chaindb.connect(f"sqlite:///{tmp_path / 'raw.sqlite3'}", settings=raw)
    migrations.migrate(db)
    db.close()
    db = chaindb.connect(f"sqlite:///{tmp_path / 'raw.sqlite3'}", settings=raw)
    assert migrations.status(db).modules
    db.close()
    with pytest.raises(ConfigError, match="a raw key must be x'<64 hex digits>'"):
        chaindb.Settings(sqlite_key="x'2d2d'")
