"""chaindb export / import: exact, streamed, all or nothing, and across backends."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import chaindb
from chaindb import assets, core, ledger, migrations
from chaindb.core import schema as core_schema
from chaindb.ops import export as exporting
from chaindb.ops import export_json
from chaindb.ops.export import export_rows
from chaindb.ops.export_json import chunks_by_the_database, sql_of
from chaindb.ops.importing import ImportRefused, import_rows
from tests.assets.conftest import ALICE, enqueue, minter, register
from tests.conftest import run_cli

TOP = 2**256 - 1


def rows_by_table(db, path) -> dict[str, Counter]:
    """Every exported row, as a multiset of its JSON per table."""
    export_rows(db, output=path)
    found: dict[str, Counter] = {}
    for line in path.read_text().splitlines()[1:]:
        record = json.loads(line)
        found.setdefault(record["table"], Counter())[json.dumps(record["row"], sort_keys=True)] += 1
    return found


def test_the_demos_database_moves_sqlite_to_postgresql_and_back_row_for_row(
    tmp_path, pg_url, demo_sqlite_template
):
    demo_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    shutil.copyfile(demo_sqlite_template, tmp_path / "demo.sqlite3")  # the demo's story, told
    source = chaindb.connect(demo_url)
    original = rows_by_table(source, tmp_path / "original.jsonl")
    assert sum(len(rows) for rows in original.values()) > 30
    target = chaindb.connect(pg_url)
    migrations.migrate(target)
    moved = run_cli(
        "import", str(tmp_path / "original.jsonl"), "--on-conflict", "update", "--url", pg_url
    )
    assert moved.returncode == 0, moved.stderr
    assert rows_by_table(target, tmp_path / "on_postgresql.jsonl") == original
    assert run_cli("maintenance", "--check", "--url", pg_url).returncode == 0
    assert run_cli("validate", "--url", pg_url).returncode == 0
    back = chaindb.connect(f"sqlite:///{tmp_path / 'back.sqlite3'}")
    migrations.migrate(back)
    import_rows(back, [tmp_path / "on_postgresql.jsonl"], on_conflict="update")
    assert rows_by_table(back, tmp_path / "back.jsonl") == original
    for db in (source, target, back):
        db.close()


def test_amounts_survive_exactly_and_new_ids_follow_the_imported(ledger_db, db_url, tmp_path):
    ledger.transfer(
        ledger_db, debit="system:issuance", credit="user:alice", amount=TOP, kind="deposit"
    )
    ledger.transfer(
        ledger_db, debit="user:alice", credit="user:bob", amount=2**63 + 1, kind="transfer"
    )
    dump = tmp_path / "ledger.jsonl"
    export_rows(ledger_db, output=dump)
    amounts = [json.loads(line)["row"].get("amount") for line in dump.read_text().splitlines()[1:]]
    assert str(TOP) in amounts  # a decimal string: exact in any reader
    with ledger_db.transaction() as conn:  # the same database, emptied of its rows
        for table in ("ledger_holds", "ledger_transfers", "ledger_accounts"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    import_rows(ledger_db, [dump], on_conflict="skip")
    assert ledger.get_balance(ledger_db, "user:bob").available == 2**63 + 1
    assert ledger.check_ledger(ledger_db).ok
    after = ledger.transfer(
        ledger_db, debit="user:alice", credit="user:carol", amount=5, kind="transfer"
    )
    assert after.id == 3  # PostgreSQL's sequence moved past the imported ids


BAD_LINES = {
    "a wrong amount": ("ledger_transfers", {"amount": "12.5"}, "amount"),
    "an amount past 2**256 - 1": ("ledger_transfers", {"amount": str(2**256)}, "amount"),
    "a bad address": ("user_wallet_addresses", {"wallet_address": "0x123"}, "wallet_address"),
    "a duplicate key": ("users", {}, "UNIQUE|duplicate"),
    "a phase its CHECK does not list": ("ledger_transfers", {"phase": "maybe"}, "phase.*'pending'"),
    "a missing required column": ("ledger_transfers", {"kind": None}, "kind"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_a_bad_row_is_named_by_file_and_line_and_nothing_is_written(ledger_db, tmp_path, case):
    ledger.transfer(
        ledger_db, debit="system:issuance", credit="user:alice", amount=7, kind="deposit"
    )
    core.add_user_wallet(
        ledger_db,
        user_id="alice",
        chain_id=1,
        wallet_address="0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
    )
    dump = tmp_path / "dump.jsonl"
    export_rows(ledger_db, output=dump)
    table, change, field = BAD_LINES[case]
    lines = dump.read_text().splitlines()
    for number, line in enumerate(lines[1:], start=2):
        record = json.loads(line)
        if record["table"] == table:
            record["row"].update(change)
            lines[number - 1] = json.dumps(record)
            break
    dump.write_text("\n".join(lines) + "\n")
    with ledger_db.transaction() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM ledger_transfers")).scalar_one()
    with pytest.raises(ImportRefused, match=rf"dump.jsonl:{number}: .*({field})"):
        import_rows(ledger_db, [dump], on_conflict="error" if "duplicate" in case else "skip")
    with ledger_db.transaction() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ledger_transfers")).scalar_one() == before


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        ('{"chaindb_export": 1, "tables": []}\n{"table": "users", "row": {"id": "zed"', "not JSON"),
        ('{"table": "users", "row": {"id": "zed", "nick": "z"}}\n', "has no column 'nick'"),
    ],
)
def test_a_truncated_or_wrong_json_file_is_refused(core_db, tmp_path, content, rule):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ImportRefused, match=rule):
        import_rows(core_db, [path])
    assert core.get_user(core_db, "zed") is None


def test_a_row_without_its_optional_columns_takes_their_defaults(core_db, tmp_path):
    path = tmp_path / "by_hand.jsonl"
    path.write_text('{"table": "users", "row": {"id": "zed"}}\n')
    before = datetime.now(UTC)
    import_rows(core_db, [path])
    zed = core.get_user(core_db, "zed")
    assert zed.username is None
    assert zed.created_at >= before.replace(microsecond=0)


def test_a_key_twice_in_one_file_takes_the_later_row_on_update(core_db, tmp_path):
    """As when each row was its own statement (PostgreSQL's ON CONFLICT DO UPDATE refuses to
    update one row twice in a statement)."""
    path = tmp_path / "twice.jsonl"
    moment = "2026-01-01T00:00:00+00:00"
    rows = [
        {"id": "zed", "username": name, "created_at": moment, "updated_at": moment}
        for name in ("first", "second")
    ]
    path.write_text("".join(json.dumps({"table": "users", "row": r}) + "\n" for r in rows))
    report = import_rows(core_db, [path], on_conflict="update")
    assert report.rows == {"users": 2}
    assert core.get_user(core_db, "zed").username == "second"


def test_csv_round_trip_keeps_null_apart_from_empty_and_refuses_an_extra_column(core_db, tmp_path):
    core.create_user(core_db, "erin", None)
    core.set_setting(core_db, key="motd", value="", description=None)
    export_rows(core_db, output=tmp_path / "csv", file_format="csv", tables=["users", "settings"])
    with core_db.transaction() as conn:
        conn.exec_driver_sql("DELETE FROM settings")
        conn.exec_driver_sql("DELETE FROM users")
    import_rows(core_db, [tmp_path / "csv" / "settings.csv", tmp_path / "csv" / "users.csv"])
    assert core.get_user(core_db, "erin").username is None
    (kept,) = core.list_settings(core_db)
    assert (kept.key, kept.value, kept.description) == ("motd", "", None)
    extra = tmp_path / "users.csv"
    extra.write_text("id,username,created_at,updated_at\nzed,z,2026-01-01T00:00:00+00:00,x,y\n")
    with pytest.raises(ImportRefused, match=r"users.csv:2: 5 values for 4 columns"):
        import_rows(core_db, [extra])


def test_an_applications_table_is_exported_by_name_beside_the_modules(core_db, tmp_path):
    with core_db.transaction() as conn:
        conn.exec_driver_sql("CREATE TABLE app_notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.exec_driver_sql("INSERT INTO app_notes VALUES (1, 'a \"note\"')")
    dump = tmp_path / "notes.jsonl"
    report = export_rows(core_db, output=dump, tables=["app_notes", "settings"])
    assert report.rows == {"settings": 0, "app_notes": 1}
    row = json.loads(dump.read_text().splitlines()[-1])
    assert row == {"table": "app_notes", "row": {"id": 1, "body": 'a "note"'}}


def test_a_table_read_for_longer_than_the_statement_timeout_is_exported_whole(
    core_db, db_url, tmp_path, monkeypatch
):
    """A table's rows are one statement however many they are: the statement timeout (30 s by
    default; 10M rows take about that) does not cut an export short."""
    if core_db.backend != "postgresql":
        pytest.skip("SQLite has no statement timeout")
    core.set_setting(core_db, key="motd", value="hello", description="")
    as_built = export_json.sql_of

    def slowly(table: sa.Table, dialect: sa.Dialect, **kw) -> str:
        return f"SELECT s.* FROM ({as_built(table, dialect, **kw)}) s, pg_sleep(1.5)"

    monkeypatch.setattr(export_json, "sql_of", slowly)
    monkeypatch.setenv("CHAINDB_STATEMENT_TIMEOUT_S", "1")
    db = chaindb.connect(db_url)
    report = export_rows(db, output=tmp_path / "settings.jsonl", tables=["settings"])
    db.close()
    assert report.rows == {"settings": 1}


def test_a_write_that_fails_mid_table_raises_and_leaves_the_database_usable(ledger_db, tmp_path):
    """A failed write (a closed pipe, a full disk: here the progress callback) in the middle of
    a table of several chunks raises at once; the export's read ends (on PostgreSQL, a stream
    left open would hold the connection's lock and its rollback would wait for ever)."""
    deposits = [
        {"debit": "system:issuance", "credit": "user:alice", "amount": n + 1, "kind": "deposit"}
        for n in range(export_json.ROWS_PER_FETCH * 2 + 1)
    ]
    ledger.transfer_batch(ledger_db, deposits)

    def full_disk(table: str, rows: int) -> None:
        if rows:
            raise OSError(28, "No space left on device")

    outcome: list[BaseException | None] = []

    def export() -> None:
        try:
            export_rows(
                ledger_db,
                output=tmp_path / "x.jsonl",
                tables=["ledger_transfers"],
                on_rows=full_disk,
            )
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    exporting_thread = threading.Thread(target=export, daemon=True)
    exporting_thread.start()
    exporting_thread.join(timeout=60)
    assert not exporting_thread.is_alive(), "the export hung after its write failed"
    assert isinstance(outcome[0], OSError) and "No space left" in str(outcome[0])
    assert ledger.get_balance(ledger_db, "user:alice").available == sum(
        d["amount"] for d in deposits
    )


def test_the_databases_json_is_the_pythons_on_every_table(ledger_db, tmp_path):
    """The JSON Lines the database builds (export_json) say what the Python writer says."""
    tables = _every_kind_of_value(ledger_db)
    assert all(sql_of(t, ledger_db.engine.dialect) for t in tables)  # none left to Python here
    with ledger_db.read() as conn:
        for table in tables:
            by_sql = _lines(chunks_by_the_database(conn, table))
            by_python = _lines(exporting.chunks_by_python(conn, table))
            assert by_sql == by_python, table.name


def test_postgresqls_lines_are_json_build_objects_byte_for_byte(ledger_db):
    """PostgreSQL's lines are one concat() per row (export_json: json_build_object cost several
    times the reading); they are the bytes json_build_object writes, escapes and NULLs too."""
    if ledger_db.backend != "postgresql":
        pytest.skip("PostgreSQL's own JSON")
    tables = _every_kind_of_value(ledger_db)
    dialect = ledger_db.engine.dialect
    with ledger_db.read() as conn:
        conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
        for table in tables:
            ours = conn.exec_driver_sql(sql_of(table, dialect)).scalars().all()
            theirs = conn.exec_driver_sql(_json_build_object_sql(table, dialect)).scalars().all()
            assert ours == theirs, table.name


def test_postgresqls_copy_writes_the_streamed_lines_where_libpq_cannot_stream(
    ledger_db, monkeypatch
):
    """Before libpq 17 no result streams by chunks: the lines come through COPY instead,
    the same bytes, escapes and NULLs too."""
    if ledger_db.backend != "postgresql":
        pytest.skip("PostgreSQL's two ways out")
    tables = _every_kind_of_value(ledger_db)
    with ledger_db.read() as conn:
        streamed = [b"".join(c.lines for c in chunks_by_the_database(conn, t)) for t in tables]
        monkeypatch.setattr(export_json, "_streams_by_chunks", lambda: False)
        copied = [b"".join(c.lines for c in chunks_by_the_database(conn, t)) for t in tables]
    assert copied == streamed
    assert any(b"\\\\ backslash" in lines for lines in copied)  # the setting's text, escaped


def test_postgresqls_lines_are_utf_8_whatever_the_clients_encoding(ledger_db, monkeypatch):
    """The lines come as the server's bytes (no decode per row): chaindb's connections ask
    for UTF-8 whatever the URL says, and a session that set another encoding gets its lines
    decoded and written as UTF-8, streamed or copied: the same bytes."""
    if ledger_db.backend != "postgresql":
        pytest.skip("PostgreSQL's client encoding")
    core.set_setting(ledger_db, key="greeting", value="café crème", description="")
    with ledger_db.read() as conn:
        as_utf_8 = b"".join(c.lines for c in chunks_by_the_database(conn, core_schema.settings))
    assert "café crème".encode() in as_utf_8
    latin9_db = chaindb.connect(ledger_db.url.update_query_dict({"client_encoding": "LATIN9"}))
    try:
        with latin9_db.read() as conn:
            assert conn.connection.driver_connection.info.encoding == "utf-8"
            conn.exec_driver_sql("SET LOCAL client_encoding = 'LATIN9'")  # é is one byte there
            assert conn.connection.driver_connection.info.encoding == "iso8859-15"
            streamed = b"".join(c.lines for c in chunks_by_the_database(conn, core_schema.settings))
            monkeypatch.setattr(export_json, "_streams_by_chunks", lambda: False)
            copied = b"".join(c.lines for c in chunks_by_the_database(conn, core_schema.settings))
    finally:
        latin9_db.close()
    assert streamed == as_utf_8
    assert copied == as_utf_8


def test_a_listed_value_that_json_escapes_is_escaped(ledger_db):
    """A CHECK listing plain words lets PostgreSQL quote a column's values as they are; a list
    with a quote or a backslash in it does not."""
    if ledger_db.backend != "postgresql":
        pytest.skip("PostgreSQL's own JSON")
    moods = ("calm", 'a "quoted" one', "back\\slash")
    listed = ", ".join("'" + mood.replace("'", "''") + "'" for mood in moods)
    table = sa.Table(
        "moods",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("plain", sa.String(12), nullable=True),
        sa.Column("mood", sa.String(20), nullable=False),
        sa.CheckConstraint("plain IN ('calm', 'two words')", name="ck_moods_plain"),
        sa.CheckConstraint(f"mood IN ({listed})", name="ck_moods_mood"),
    )
    dialect = ledger_db.engine.dialect
    sql = sql_of(table, dialect)
    assert "to_json(plain)" not in sql and "to_json(mood)" in sql  # each way, once
    with ledger_db.transaction() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"id": n, "mood": m} for n, m in enumerate(moods)])
        conn.execute(table.insert(), [{"id": 9, "plain": "two words", "mood": "calm"}])
        ours = conn.exec_driver_sql(sql).scalars().all()
        theirs = conn.exec_driver_sql(_json_build_object_sql(table, dialect)).scalars().all()
    assert ours == theirs
    assert [json.loads(line)["row"]["mood"] for line in ours] == [*moods, "calm"]


def _every_kind_of_value(db: chaindb.Database) -> list[sa.Table]:
    """Amounts, addresses, JSON, NULLs, timestamps with and without a fraction, and text that
    JSON must escape; the tables to export."""
    ledger.transfer(db, debit="system:issuance", credit="user:alice", amount=TOP, kind="deposit")
    core.add_user_wallet(
        db, user_id="alice", chain_id=1, wallet_address="0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    )
    core.log_security_event(
        db, event_type="login", description="in", user_id="alice", metadata={"n": 2**70}
    )
    for n, micro in enumerate((0, 120_000, 5)):  # a fraction with trailing zeros, none, a tiny one
        core.log_blockchain_transaction(
            db,
            chain_id=1,
            transaction_hash="0x" + f"{n:064x}",
            transaction_type="t",
            created_at=datetime(2026, 5, 1, 12, 0, 0, micro, tzinfo=UTC),
        )
    escaped = 'a "quote", a \\ backslash,\nlines,\ta tab, \x01\x1f\x7f, é ✓ 𝄞'
    core.set_setting(db, key="motd", value=escaped, description="")
    return exporting.export_tables(db)


def _json_build_object_sql(table: sa.Table, dialect: sa.Dialect) -> str:
    """The line as json_build_object writes it, from the same values (export_json's first
    form)."""
    quote = dialect.identifier_preparer.quote
    pairs = ", ".join(f"'{c.name}', {export_json._postgres(c, quote(c.name))}" for c in table.c)
    line = f"json_build_object('table', '{table.name}', 'row', json_build_object({pairs}))::text"
    order = ", ".join(quote(c.name) for c in table.primary_key.columns or table.c)
    return f"SELECT {line} FROM {quote(table.name)} ORDER BY {order}"


def _lines(chunks) -> list:
    return [json.loads(line) for line in b"".join(c.lines for c in chunks).decode().splitlines()]


def test_jobs_claimed_on_postgresql_move_to_sqlite_and_complete_there(tmp_path, pg_url):
    """A claimed job waits for its asset id until it completes (assets_0006), on both
    backends alike: a queue exported mid-batch imports into SQLite, and the batch completes."""
    source = chaindb.connect(pg_url)
    migrations.migrate(source)
    register(source)
    for n in range(3):
        enqueue(source, f"moving{n}")
    batch = assets.claim_batch(source, worker_id="w1", batch_size_max=2)
    export_rows(source, output=tmp_path / "queue.jsonl")
    target = chaindb.connect(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    migrations.migrate(target)
    import_rows(target, [tmp_path / "queue.jsonl"], on_conflict="update")  # its seed rows
    outcome = assets.complete_batch(target, batch, minter()(batch))
    assert outcome.completed_job_ids == [job.id for job in batch.jobs]
    minted = {a.asset_id for a in assets.list_assets(target, ALICE)}
    assert minted == {job.asset_id for job in batch.jobs}
    assert assets.verify(target) == []
    for db in (source, target):
        db.close()
