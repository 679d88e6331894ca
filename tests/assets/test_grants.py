"""Access grants: the owner, or a grant not revoked, not expired, not used up; uses counted
atomically; a transfer revokes what the previous owner granted."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from chaindb import Conflict, InvalidInput, assets
from chaindb.types import utc_now
from tests.assets.conftest import ALICE, BOB, CAROL, DAVE, mint

CONCURRENT_USERS = 8
GRANT_USES = 5


@pytest.fixture
def asset(tree_db):
    return mint(tree_db, "shared memory")


def grant(db, asset, **extra):
    values = {"asset_id": asset.asset_id, "owner_address": ALICE, "grantee_address": BOB}
    return assets.grant_access(db, **{**values, **extra})


def test_the_owner_has_access_and_a_stranger_has_none(tree_db, asset):
    assert assets.check_access(tree_db, asset.asset_id, ALICE) == assets.Access(
        allowed=True, via="owner"
    )
    assert not assets.check_access(tree_db, asset.asset_id, BOB).allowed


def test_a_grant_gives_access_until_it_expires(tree_db, asset):
    expires = utc_now() + timedelta(hours=1)
    made = grant(tree_db, asset, expires_at=expires)
    access = assets.check_access(tree_db, asset.asset_id, BOB)
    assert (access.allowed, access.via, access.grant_id) == (True, "grant", made.id)
    later = expires + timedelta(seconds=1)
    assert not assets.check_access(tree_db, asset.asset_id, BOB, at=later).allowed
    assert assets.check_access(
        tree_db, asset.asset_id, BOB, at=expires - timedelta(seconds=1)
    ).allowed


def test_permissions_are_ordered(tree_db, asset):
    grant(tree_db, asset, permission="download")
    assert assets.check_access(tree_db, asset.asset_id, BOB, permission="view").allowed
    assert assets.check_access(tree_db, asset.asset_id, BOB, permission="download").allowed
    assert not assets.check_access(tree_db, asset.asset_id, BOB, permission="edit").allowed


def test_a_revoked_grant_gives_no_access_and_cannot_be_used(tree_db, asset):
    made = grant(tree_db, asset)
    with pytest.raises(Conflict, match="does not own"):
        assets.revoke_grant(tree_db, made.id, owner_address=BOB)
    revoked = assets.revoke_grant(tree_db, made.id, owner_address=ALICE)
    assert revoked.revoked_at is not None
    assert not assets.check_access(tree_db, asset.asset_id, BOB).allowed
    with pytest.raises(Conflict, match="was revoked"):
        assets.use_grant(tree_db, made.id, wallet=BOB)


def test_only_the_owner_grants(tree_db, asset):
    with pytest.raises(Conflict, match=f"owner_address: {CAROL} does not own"):
        grant(tree_db, asset, owner_address=CAROL, grantee_address=DAVE)
    with pytest.raises(InvalidInput, match="max_uses"):
        grant(tree_db, asset, max_uses=0)
    assert assets.get_grants(tree_db, grantee_address=DAVE) == []


def test_a_used_up_grant_gives_no_more_access(tree_db, asset):
    made = grant(tree_db, asset, max_uses=2)
    assert assets.use_grant(tree_db, made.id, wallet=BOB).use_count == 1
    assert assets.use_grant(tree_db, made.id, wallet=BOB).use_count == 2
    with pytest.raises(Conflict, match=r"is used up \(2 of 2\)"):
        assets.use_grant(tree_db, made.id, wallet=BOB)
    assert not assets.check_access(tree_db, asset.asset_id, BOB).allowed
    with pytest.raises(Conflict, match="was not made to"):
        assets.use_grant(tree_db, made.id, wallet=CAROL)


def test_eight_concurrent_users_of_a_five_use_grant_get_exactly_five_uses(tree_db, asset):
    made = grant(tree_db, asset, max_uses=GRANT_USES)
    start = threading.Barrier(CONCURRENT_USERS)
    results: list[str] = []

    def use() -> None:
        start.wait()
        try:
            assets.use_grant(tree_db, made.id, wallet=BOB)
            results.append("used")
        except Conflict:
            results.append("refused")

    threads = [threading.Thread(target=use) for _ in range(CONCURRENT_USERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["refused"] * 3 + ["used"] * 5
    (after,) = assets.get_grants(tree_db, grantee_address=BOB, active_only=False)
    assert after.use_count == GRANT_USES
    assert len(assets.get_audit_log(tree_db, operation="use_grant")) == GRANT_USES


def test_a_transfer_revokes_the_previous_owners_grants(tree_db, asset):
    grant(tree_db, asset, grantee_address=CAROL)
    transfer = assets.transfer_asset(
        tree_db, asset_id=asset.asset_id, from_address=ALICE, to_address=BOB
    )
    assert transfer.grants_revoked == 1
    assert not assets.check_access(tree_db, asset.asset_id, CAROL).allowed
    assert assets.check_access(tree_db, asset.asset_id, BOB).via == "owner"
    assert not assets.check_access(tree_db, asset.asset_id, ALICE).allowed
    (revoked,) = assets.get_grants(tree_db, grantee_address=CAROL, active_only=False)
    assert revoked.revoke_reason == "transferred"


def test_the_active_assets_view_counts_grants_in_force(tree_db, asset):
    grant(tree_db, asset)
    grant(tree_db, asset, grantee_address=CAROL, expires_at=utc_now() - timedelta(seconds=1))
    (active,) = assets.get_active_assets(tree_db, ALICE)
    assert (active.asset_id, active.active_grant_count, active.batch_status) == (
        asset.asset_id,
        1,
        "completed",
    )
    stats = assets.get_user_statistics(tree_db, ALICE)
    assert (stats.total_assets, stats.total_batches, stats.grants_given) == (1, 1, 2)
    assert stats.total_cost_lamports == 10_000
    assert assets.get_user_statistics(tree_db, BOB).grants_received == 1
