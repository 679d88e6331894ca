"""GDPR erasure keeps every counter and distribution and releases the wallets; playlists keep
their order through moves without renumbering."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chaindb import Conflict, core, creators, ledger
from chaindb.creators.schema import comments, plays
from tests.creators.conftest import plays_of


def test_erasing_a_listener_keeps_plays_anonymous_and_every_counter(platform):
    db, track = platform.db, platform.tracks[0]
    address = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"
    core.add_user_wallet(db, user_id="alice", chain_id=314, wallet_address=address)
    batch = plays_of(track.id, 3, user_id="alice", ip_address="198.51.100.4", user_agent="UA")
    creators.record_plays(db, [*batch, *plays_of(track.id, 2, prefix="bob", user_id="bob")])
    creators.like_track(db, user_id="alice", track_id=track.id)
    creators.add_comment(db, user_id="alice", track_id=track.id, body="my name is Alice")
    creators.follow(db, follower_id="alice", creator_id=platform.creator.id)
    playlist = creators.create_playlist(db, owner_id="alice", title="Alice's mix")
    creators.add_to_playlist(db, playlist_id=playlist.id, track_id=track.id)
    before = creators.get_creator(db, platform.creator.id)

    erased = creators.erase_user(db, "alice")
    assert erased.as_dict() == {
        "user_id": "alice",
        "plays_anonymized": 3,
        "likes_anonymized": 1,
        "comments_wiped": 1,
        "follows_anonymized": 1,
        "playlists_deleted": 1,
        "creator_profile_wiped": False,
        "wallets_released": 1,
    }
    with db.read() as conn:
        kept = conn.execute(sa.select(plays).order_by(plays.c.id)).mappings().all()
        texts = conn.execute(sa.select(comments.c.body, comments.c.user_id)).all()
    seen = sorted(((p["user_id"] or ""), p["ip_hash"], p["user_agent_hash"]) for p in kept)
    assert seen == [("", None, None)] * 3 + [("bob", None, None)] * 2
    assert texts == [(None, None)]
    after = creators.get_creator(db, platform.creator.id)
    counted = ("total_plays", "follower_count", "like_count", "comment_count")
    assert [getattr(after, c) for c in counted] == [getattr(before, c) for c in counted]
    assert creators.verify(db) == []
    assert core.get_user(db, "alice").username is None
    core.add_user_wallet(db, user_id="bob", chain_id=314, wallet_address=address)  # released
    assert creators.erase_user(db, "alice").plays_anonymized == 0  # again: nothing left


def test_erasing_a_creator_keeps_tracks_counters_and_distributions(platform):
    db, creator = platform.db, platform.creator
    creators.record_plays(db, plays_of(platform.tracks[0].id, 4))
    erased = creators.erase_user(db, "mira")
    assert erased.creator_profile_wiped
    wiped = creators.get_creator(db, creator.id)
    assert wiped.stage_name == f"deleted creator {creator.id}" and wiped.bio is None
    assert wiped.total_plays == 4 and wiped.deleted_at is not None
    assert creators.get_track(db, platform.tracks[0].id).play_count == 4
    assert ledger.check_ledger(db).ok


def test_moving_tracks_keeps_the_order_without_renumbering(platform):
    db = platform.db
    playlist = creators.create_playlist(db, owner_id="bob", title="Road")
    ids = [t.id for t in platform.tracks] + [platform.other_track.id]
    for track_id in ids:
        creators.add_to_playlist(db, playlist_id=playlist.id, track_id=track_id)
    with pytest.raises(Conflict, match="already in playlist"):
        creators.add_to_playlist(db, playlist_id=playlist.id, track_id=ids[0])
    creators.move_in_playlist(db, playlist_id=playlist.id, track_id=ids[3], to_index=0)
    assert creators.get_playlist_tracks(db, playlist.id) == [ids[3], ids[0], ids[1], ids[2]]
    creators.move_in_playlist(db, playlist_id=playlist.id, track_id=ids[3], to_index=99)
    assert creators.get_playlist_tracks(db, playlist.id) == ids
    # forty moves into the same gap: it runs out, the playlist is renumbered, order holds
    for n in range(40):
        moved = ids[n % 2]
        creators.move_in_playlist(db, playlist_id=playlist.id, track_id=moved, to_index=1)
        order = creators.get_playlist_tracks(db, playlist.id)
        assert order[1] == moved and sorted(order) == sorted(ids)
    assert creators.remove_from_playlist(db, playlist_id=playlist.id, track_id=ids[2])
    assert len(creators.get_playlist_tracks(db, playlist.id)) == 3
