"""A platform to play on: listeners, a creator with tracks, and the analytics key."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import chaindb
from chaindb import core, creators

CID_V0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CID_V1 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
PIECE_CID = "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"
LISTENERS = ("alice", "bob", "carol", "dave")
ANALYTICS_KEY = "k" * 40


@dataclass
class Platform:
    db: chaindb.Database
    creator: creators.Creator
    tracks: list[creators.Track]
    other: creators.Creator
    other_track: creators.Track


@pytest.fixture(autouse=True)
def _analytics_key(monkeypatch):
    monkeypatch.setenv("CHAINDB_ANALYTICS_KEY", ANALYTICS_KEY)


@pytest.fixture
def platform(core_db) -> Platform:
    for user in (*LISTENERS, "mira", "otto"):
        core.create_user(core_db, user, user)
    mira = creators.create_creator(core_db, user_id="mira", stage_name="Mira", genres=["ambient"])
    otto = creators.create_creator(core_db, user_id="otto", stage_name="Otto")
    tracks = [
        creators.create_track(
            core_db, creator_id=mira.id, title=f"Song {n}", duration_s=180, file_cid=cid
        )
        for n, cid in enumerate((CID_V0, CID_V1, PIECE_CID))
    ]
    other = creators.create_track(
        core_db, creator_id=otto.id, title="Other", duration_s=200, file_cid=CID_V1
    )
    return Platform(core_db, mira, tracks, otto, other)


def plays_of(track_id: int, count: int, *, prefix: str = "c", **fields) -> list[dict]:
    return [
        {"track_id": track_id, "client_id": f"{prefix}-{track_id}-{n}", "listened_s": 30, **fields}
        for n in range(count)
    ]
