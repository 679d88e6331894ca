"""Seed 001's security section: the least-privilege service role and row-level security on
memory_assets. PostgreSQL only: SQLite has neither roles nor row-level security."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import chaindb
from chaindb import ChaindbError, NotFound, assets, migrations
from tests.assets.conftest import ALICE, BOB, CAROL, enqueue, minter, register

PASSWORD = "correct horse battery staple"


@pytest.fixture
def owner_db(pg_url):
    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    yield db
    db.close()


@pytest.fixture
def service_db(owner_db, pg_url):
    """The database as the service role create_service_role made."""
    name = f"svc_{uuid.uuid4().hex[:10]}"
    statements = assets.create_service_role(owner_db, name=name, password=PASSWORD)
    assert PASSWORD not in " ".join(statements)
    url = make_url(pg_url).set(username=name, password=PASSWORD)
    db = chaindb.connect(url.render_as_string(hide_password=False))
    yield db
    db.close()
    with owner_db.transaction() as conn:
        conn.exec_driver_sql(f"DROP OWNED BY {name}")
        conn.exec_driver_sql(f"DROP ROLE {name}")


def test_the_service_role_runs_the_api(service_db):
    register(service_db)
    enqueue(service_db, "by the service", owner=ALICE)
    assert assets.run_worker(service_db, mint=minter(), once=True).completed == 1
    (mine,) = assets.list_assets(service_db, ALICE)
    assets.grant_access(
        service_db, asset_id=mine.asset_id, owner_address=ALICE, grantee_address=BOB
    )
    assert assets.check_access(service_db, mine.asset_id, BOB).via == "grant"
    assets.transfer_asset(service_db, asset_id=mine.asset_id, from_address=ALICE, to_address=BOB)
    assert assets.check_access(service_db, mine.asset_id, BOB).via == "owner"
    assert [a.asset_id for a in assets.search_assets(service_db, "service", as_wallet=BOB)] == [
        mine.asset_id
    ]


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("CREATE TABLE mine (id int)", "permission denied for schema public"),
        ("DROP TABLE memory_assets", "must be owner of table memory_assets"),
        ("ALTER TABLE access_grants ADD COLUMN x int", "must be owner of table access_grants"),
        ("DELETE FROM chaindb_migrations", "permission denied for table chaindb_migrations"),
    ],
)
def test_the_service_role_cannot_change_the_schema(service_db, statement, refusal):
    with pytest.raises(DBAPIError, match=refusal), service_db.transaction() as conn:
        conn.exec_driver_sql(statement)


def test_the_service_role_cannot_migrate(owner_db, service_db, module_folder, monkeypatch):
    monkeypatch.setenv("CHAINDB_MIGRATION_LOCK_TIMEOUT_S", "10")
    module_folder.write(1, "op.create_table('app_notes', sa.Column('id', sa.Integer))")
    with pytest.raises((ChaindbError, DBAPIError), match="permission denied"):
        migrations.migrate(service_db)
    run = migrations.migrate(owner_db)  # the owner role still migrates
    assert [step.revision for step in run.steps] == ["app_0001"]


def test_tables_created_later_are_covered_by_default_privileges(owner_db, service_db):
    with owner_db.transaction() as conn:
        conn.exec_driver_sql("CREATE TABLE later_table (id bigserial PRIMARY KEY, note text)")
    with service_db.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO later_table (note) VALUES ('ok')")
        assert conn.exec_driver_sql("SELECT count(*) FROM later_table").scalar_one() == 1


def test_one_owner_cannot_read_or_change_anothers_assets(owner_db, service_db):
    register(owner_db)
    enqueue(owner_db, "alice's", owner=ALICE)
    enqueue(owner_db, "bob's", owner=BOB)
    assets.run_worker(owner_db, mint=minter(), once=True)
    (alices,) = assets.list_assets(owner_db, ALICE)
    assert assets.get_asset(service_db, alices.asset_id, as_wallet=ALICE) == alices
    assert assets.get_asset(service_db, alices.asset_id, as_wallet=BOB) is None
    assert assets.get_asset(service_db, alices.asset_id) is None  # no wallet: nothing
    with pytest.raises(NotFound):
        assets.transfer_asset(
            service_db, asset_id=alices.asset_id, from_address=BOB, to_address=CAROL
        )
    with service_db.transaction(as_wallet=BOB) as conn:
        seen = conn.exec_driver_sql("SELECT owner_address FROM memory_assets").scalars().all()
        changed = conn.exec_driver_sql(
            f"UPDATE memory_assets SET owner_address = '{BOB}' WHERE owner_address = '{ALICE}'"
        ).rowcount
        listed = conn.exec_driver_sql("SELECT owner_address FROM active_memory_assets")
        assert listed.scalars().all() == [BOB]
    assert (seen, changed) == ([BOB], 0)
    assert assets.search_assets(service_db, "alice", as_wallet=BOB) == []
    assert assets.get_asset(owner_db, alices.asset_id).owner_address == ALICE  # the owner sees all
    with owner_db.read() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM memory_assets")).scalar_one()
    assert count == 2


def test_roles_are_refused_on_sqlite(tmp_path):
    """SQLite: create_service_role says roles are PostgreSQL's."""
    db = chaindb.connect(f"sqlite:///{tmp_path}/x.sqlite3")
    with pytest.raises(ChaindbError, match="roles are PostgreSQL's"):
        assets.create_service_role(db, name="svc", password=PASSWORD)


def test_the_service_role_completes_a_batch_of_several_owners(owner_db, service_db):
    """Row-level security checks each minted asset against the wallet the completion acts
    for: a batch of two owners' jobs, completed as the service role, gives each its own."""
    register(service_db)
    for key, owner in (("a1", ALICE), ("b1", BOB), ("a2", ALICE)):
        enqueue(service_db, key, owner=owner)
    report = assets.run_worker(service_db, mint=minter(), once=True, batch_size_max=3)
    assert (report.batches, report.completed) == (1, 3)
    assert [a.owner_address for a in assets.list_assets(owner_db, ALICE)] == [ALICE, ALICE]
    (bobs,) = assets.list_assets(owner_db, BOB)
    assert assets.get_asset(service_db, bobs.asset_id, as_wallet=BOB) == bobs
    assert [a.asset_id for a in assets.search_assets(service_db, "b1", as_wallet=BOB)] == [
        bobs.asset_id
    ]
    assert assets.search_assets(service_db, "a1", as_wallet=BOB) == []
