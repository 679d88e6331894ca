"""Contracts, admin signatures, settings, security events and users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chaindb import Conflict, InvalidInput, NotFound, core

FACTORY_V1 = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
FACTORY_V2 = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
ADMIN = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
ABI = [{"type": "function", "name": "resolve", "inputs": [{"name": "id", "type": "uint256"}]}]


def count(db, table: str) -> int:
    with db.read() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_a_new_deployment_replaces_the_active_one(core_db):
    v1 = core.record_contract_deployment(
        core_db,
        contract_name="ChallengeFactory",
        contract_address=FACTORY_V1,
        chain_id=84532,
        abi=ABI,
        deployment_tx_hash="0x" + "01" * 32,
        deployer_address=ADMIN,
    )
    assert v1.abi_hash == core.abi_hash(ABI) and v1.is_active
    v2 = core.record_contract_deployment(
        core_db,
        contract_name="ChallengeFactory",
        contract_address=FACTORY_V2,
        chain_id=84532,
        version="2",
    )
    assert core.get_contract_by_name(core_db, "ChallengeFactory", 84532).id == v2.id
    assert [c.id for c in core.get_deployed_contracts(core_db)] == [v2.id]
    everything = core.get_deployed_contracts(core_db, include_inactive=True)
    assert {(c.version, c.is_active) for c in everything} == {("1", False), ("2", True)}
    assert core.get_contract_by_name(core_db, "Nothing") is None


def test_recording_a_deployment_again_is_idempotent_but_not_a_rename(core_db):
    first = core.record_contract_deployment(
        core_db, contract_name="Escrow", contract_address=FACTORY_V1, chain_id=1
    )
    again = core.record_contract_deployment(
        core_db, contract_name="Escrow", contract_address=FACTORY_V1.lower(), chain_id=1
    )
    assert again.id == first.id
    with pytest.raises(Conflict, match="already recorded as Escrow"):
        core.record_contract_deployment(
            core_db, contract_name="Token", contract_address=FACTORY_V1, chain_id=1
        )


def test_abi_hash_must_match_the_abi(core_db):
    with pytest.raises(InvalidInput, match="abi_hash"):
        core.record_contract_deployment(
            core_db,
            contract_name="X",
            contract_address=FACTORY_V1,
            chain_id=1,
            abi=ABI,
            abi_hash="0x" + "00" * 32,
        )
    assert count(core_db, "contract_deployments") == 0


def test_admin_signatures_are_logged_once_and_queried_by_time(core_db):
    fields = dict(
        admin_address=ADMIN,
        message_hash="0x" + "aa" * 32,
        signature="0x" + "11" * 65,
        challenge_id=123,
        winner="alice",
        signature_type="eip712",
    )
    first = core.log_admin_signature(core_db, **fields)
    again = core.log_admin_signature(core_db, **fields)
    assert again.id == first.id and not first.is_verified
    with pytest.raises(Conflict, match="different challenge_id"):
        core.log_admin_signature(core_db, **{**fields, "challenge_id": 124})
    old = core.log_admin_signature(
        core_db,
        **{**fields, "signature": "0x" + "22" * 65},
        signed_at=datetime.now(UTC) - timedelta(days=2),
    )
    recent = core.get_admin_signatures(core_db, since=datetime.now(UTC) - timedelta(hours=24))
    assert [s.id for s in recent] == [first.id]
    assert old.id != first.id
    with core_db.read() as conn:  # seed 000's audit query (PostgreSQL interval syntax aside)
        rows = conn.execute(
            sa.text(
                "SELECT a.challenge_id, a.admin_address, a.winner, a.is_verified, a.signed_at "
                "FROM admin_signatures_log a WHERE a.signed_at > :since ORDER BY a.signed_at DESC"
            ),
            {"since": datetime.now(UTC) - timedelta(hours=24)},
        ).all()
    assert [row.challenge_id for row in rows] == [123]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("signature", "0x1234"),
        ("message_hash", "0xzz"),
        ("admin_address", "nope"),
        ("signature_type", "eip999"),
    ],
)
def test_bad_signatures_are_refused(core_db, field, value):
    fields = dict(admin_address=ADMIN, message_hash="0x" + "aa" * 32, signature="0x" + "11" * 65)
    with pytest.raises(InvalidInput) as error:
        core.log_admin_signature(core_db, **{**fields, field: value})
    assert error.value.field == field
    assert count(core_db, "admin_signatures_log") == 0


def test_settings_upsert_and_visibility(core_db):
    core.set_setting(core_db, "points.multiplier", "1.5", description="x", is_public=True)
    core.set_setting(core_db, "points.multiplier", "2.0")
    core.set_setting(core_db, "admin.key_id", "k1")
    assert core.get_setting(core_db, "points.multiplier") == "2.0"
    assert core.get_setting(core_db, "missing", "fallback") == "fallback"
    public = core.list_settings(core_db, public_only=True)
    assert [(s.key, s.value, s.description) for s in public] == [("points.multiplier", "2.0", "x")]
    with pytest.raises(InvalidInput, match="key"):
        core.set_setting(core_db, "bad key!", "v")


def test_security_events(core_db):
    core.create_user(core_db, "alice")
    event = core.log_security_event(
        core_db,
        event_type="login_failed",
        description="bad signature",
        severity="warning",
        ip_address="203.0.113.7",
        user_id="alice",
        wallet_address=ADMIN.lower(),
        metadata={"attempt": 3},
    )
    assert (event.wallet_address, event.metadata) == (ADMIN, {"attempt": 3})
    core.log_security_event(core_db, event_type="key_rotated", description="rotated")
    assert [e.event_type for e in core.get_security_events(core_db, severity="warning")] == [
        "login_failed"
    ]
    assert len(core.get_security_events(core_db)) == 2
    for field, value in (("severity", "fatal"), ("ip_address", "999.1.1.1"), ("event_type", "")):
        with pytest.raises(InvalidInput) as error:
            core.log_security_event(
                core_db, **{"event_type": "x", "description": "d", field: value}
            )
        assert error.value.field == field
    with pytest.raises(NotFound):
        core.log_security_event(core_db, event_type="x", description="d", user_id="ghost")
    assert count(core_db, "security_events") == 2


def test_users(core_db):
    user = core.create_user(core_db, "user123", "alice")
    assert core.get_user(core_db, "user123") == user
    with pytest.raises(Conflict):
        core.create_user(core_db, "user123")
    assert core.ensure_user(core_db, "user123").id == "user123"
    assert core.ensure_user(core_db, "user456").username is None
    with pytest.raises(Conflict, match="username"):
        core.ensure_user(core_db, "user789", "alice")
    with pytest.raises(InvalidInput, match="user_id"):
        core.create_user(core_db, "x" * 65)
