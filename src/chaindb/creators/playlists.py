"""Playlists with ordered tracks: add, move, remove without renumbering the playlist.

A track's place is a sparse position (POSITION_GAP apart when appended). Moving a track to an
index writes one row: the midpoint of its new neighbours' positions. Only when two neighbours
have no integer left between them is the playlist renumbered (at most PLAYLIST_TRACKS_MAX
rows), which halving a gap of 2**20 allows only after twenty moves into the same spot.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb.core import require_user
from chaindb.creators.schema import playlist_tracks, playlists
from chaindb.creators.tracks import require_track
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.text import free_text
from chaindb.types import RowId, UserId, utc_now
from chaindb.validation import Input, Row, validated

POSITION_GAP = 2**20
PLAYLIST_TRACKS_MAX = 10_000
TITLE_CHARS_MAX = 200


class NewPlaylist(Input):
    owner_id: UserId
    title: free_text(TITLE_CHARS_MAX, chars_min=1)  # type: ignore[valid-type]
    is_public: bool = True


class Placement(Input):
    playlist_id: RowId
    track_id: RowId


class Playlist(Row):
    id: int
    owner_id: str
    title: str
    is_public: bool
    track_count: int
    created_at: datetime
    updated_at: datetime


def create_playlist(
    target: Database | Connection, *, owner_id: str, title: str, is_public: bool = True
) -> Playlist:
    new = validated(NewPlaylist, owner_id=owner_id, title=title, is_public=is_public)
    with writing(target) as conn:
        require_user(conn, new.owner_id, "owner_id")
        row = conn.execute(playlists.insert().values(**new.model_dump()).returning(playlists)).one()
    return Playlist.model_validate(row)


def add_to_playlist(target: Database | Connection, *, playlist_id: int, track_id: int) -> None:
    """Append the track (a track is in a playlist once: adding it again is a Conflict)."""
    place = validated(Placement, playlist_id=playlist_id, track_id=track_id)
    try:
        with writing(target) as conn:
            playlist = _lock(conn, place.playlist_id)
            require_track(conn, place.track_id)
            if playlist.track_count >= PLAYLIST_TRACKS_MAX:
                raise Conflict(f"playlist {playlist_id} holds {PLAYLIST_TRACKS_MAX} tracks already")
            last = conn.execute(
                sa.select(sa.func.max(playlist_tracks.c.position)).where(
                    playlist_tracks.c.playlist_id == playlist_id
                )
            ).scalar()
            conn.execute(
                playlist_tracks.insert().values(
                    playlist_id=playlist_id,
                    track_id=track_id,
                    position=(last or 0) + POSITION_GAP,
                )
            )
            _count(conn, playlist_id, 1)
    except IntegrityError:
        raise Conflict(f"track {track_id} is already in playlist {playlist_id}") from None


def remove_from_playlist(target: Database | Connection, *, playlist_id: int, track_id: int) -> bool:
    with writing(target) as conn:
        _lock(conn, playlist_id)
        removed = conn.execute(
            playlist_tracks.delete().where(
                playlist_tracks.c.playlist_id == playlist_id,
                playlist_tracks.c.track_id == track_id,
            )
        ).rowcount
        if removed:
            _count(conn, playlist_id, -1)
    return bool(removed)


def move_in_playlist(
    target: Database | Connection, *, playlist_id: int, track_id: int, to_index: int
) -> None:
    """Move the track to `to_index` (0 = first; past the end = last)."""
    if isinstance(to_index, bool) or not isinstance(to_index, int) or to_index < 0:
        raise InvalidInput("to_index", to_index, "must be an integer >= 0")
    with writing(target) as conn:
        _lock(conn, playlist_id)
        order = _order(conn, playlist_id)
        if track_id not in order:
            raise NotFound(f"track_id: track {track_id} is not in playlist {playlist_id}")
        others = [t for t in order if t != track_id]
        index = min(to_index, len(others))
        positions = _positions(conn, playlist_id)
        before = positions[others[index - 1]] if index > 0 else 0
        after = positions[others[index]] if index < len(others) else before + 2 * POSITION_GAP
        if after - before < 2:
            _renumber(conn, playlist_id, [*others[:index], track_id, *others[index:]])
            return
        _place(conn, playlist_id, track_id, (before + after) // 2)


def get_playlist_tracks(target: Database | Connection, playlist_id: int) -> list[int]:
    """The playlist's track ids, in order (uq_playlist_tracks_position serves it)."""
    with reading(target) as conn:
        return _order(conn, playlist_id)


def _order(conn: Connection, playlist_id: int) -> list[int]:
    return list(
        conn.scalars(
            sa.select(playlist_tracks.c.track_id)
            .where(playlist_tracks.c.playlist_id == playlist_id)
            .order_by(playlist_tracks.c.position)
        )
    )


def _positions(conn: Connection, playlist_id: int) -> dict[int, int]:
    rows = conn.execute(
        sa.select(playlist_tracks.c.track_id, playlist_tracks.c.position).where(
            playlist_tracks.c.playlist_id == playlist_id
        )
    )
    return {row.track_id: row.position for row in rows}


def _place(conn: Connection, playlist_id: int, track_id: int, position: int) -> None:
    conn.execute(
        playlist_tracks.update()
        .where(playlist_tracks.c.playlist_id == playlist_id, playlist_tracks.c.track_id == track_id)
        .values(position=position)
    )


def _renumber(conn: Connection, playlist_id: int, order: list[int]) -> None:
    """Every track POSITION_GAP apart again, in `order`: first out of the way (negative
    positions), so that the unique (playlist, position) key holds after each row."""
    for n, track in enumerate(order):
        _place(conn, playlist_id, track, -(n + 1))
    for n, track in enumerate(order):
        _place(conn, playlist_id, track, (n + 1) * POSITION_GAP)


def _lock(conn: Connection, playlist_id: int) -> Playlist:
    row = conn.execute(
        sa.select(playlists).where(playlists.c.id == playlist_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"playlist_id: playlist {playlist_id} does not exist")
    return Playlist.model_validate(row)


def _count(conn: Connection, playlist_id: int, delta: int) -> None:
    conn.execute(
        playlists.update()
        .where(playlists.c.id == playlist_id)
        .values(track_count=playlists.c.track_count + delta, updated_at=utc_now())
    )
