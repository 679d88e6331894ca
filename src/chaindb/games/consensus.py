"""Byzantine consensus rounds (seed 002's V3): a proposal, the players registered for the
round, and their votes, each an ed25519 signature (PyNaCl) by the voter's registered key.

A voter signs vote_message(round_number, proposal_hash): a domain tag, the round number and the
round's proposal hash, so that a vote for one round cannot be replayed in another with the same
proposal. A vote is stored only if it verifies; one per voter per round (the database refuses a
second). A round finalizes once, when its counted votes reach the quorum: more than two thirds
of its participants, floor(2n/3) + 1 (4 -> 3, 7 -> 5). Votes after that are kept (`late`)
but change nothing. The round's row is locked while a vote is counted (PostgreSQL: FOR UPDATE;
SQLite: one writer), so concurrent voters finalize it exactly once.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

import sqlalchemy as sa
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.games.players import public_keys
from chaindb.games.schema import (
    HASH_BYTES,
    SIGNATURE_BYTES,
    consensus_participants,
    consensus_rounds,
    consensus_votes,
)
from chaindb.types import UserId, utc_now
from chaindb.validation import Input, Row, validated

VOTE_DOMAIN = b"bitcraps-consensus-vote\x00"
PARTICIPANTS_MAX = 1_000


class ConsensusRound(Row):
    round_number: int
    game_id: str | None
    proposer_id: str
    proposal_hash: bytes
    participant_count: int
    quorum: int
    vote_count: int
    finalized: bool
    created_at: datetime
    finalized_at: datetime | None


class Vote(Row):
    id: str
    round_number: int
    voter_id: str
    vote_hash: bytes
    signature: bytes
    late: bool
    created_at: datetime


class VoteResult(Row):
    vote: Vote
    round: ConsensusRound
    finalized_now: bool  # this vote reached the quorum


class _NewRound(Input):
    proposer_id: UserId
    participants: list[UserId]
    game_id: str | None = None


class _Ballot(Input):
    voter_id: UserId


def quorum_of(participant_count: int) -> int:
    """More than two thirds: the least number of votes v with 3v > 2n."""
    return 2 * participant_count // 3 + 1


def vote_message(round_number: int, proposal_hash: bytes) -> bytes:
    """What a voter signs for a round."""
    return VOTE_DOMAIN + round_number.to_bytes(8, "big") + proposal_hash


def fixed_bytes(value: object, field: str, size: int) -> bytes:
    """`size` raw bytes, or their hex (with or without 0x)."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise InvalidInput(
                field, value, f"must be {size} bytes or {2 * size} hex digits"
            ) from None
    if not isinstance(value, bytes | bytearray) or len(value) != size:
        raise InvalidInput(field, value, f"must be {size} bytes")
    return bytes(value)


def open_round(
    target: Database | Connection,
    *,
    proposer_id: str,
    proposal_hash: bytes | str,
    participants: list[str],
    game_id: str | None = None,
) -> ConsensusRound:
    """A new round on `proposal_hash` (32 bytes) among registered players."""
    digest = fixed_bytes(proposal_hash, "proposal_hash", HASH_BYTES)
    new = validated(_NewRound, proposer_id=proposer_id, participants=participants, game_id=game_id)
    voters = sorted(set(new.participants))
    if not 1 <= len(voters) <= PARTICIPANTS_MAX:
        raise InvalidInput(
            "participants", len(voters), f"must name 1 to {PARTICIPANTS_MAX} players"
        )
    with writing(target) as conn:
        registered = public_keys(conn, sorted({*voters, new.proposer_id}))
        missing = sorted({*voters, new.proposer_id} - registered.keys())
        if missing:
            raise NotFound(f"participants: {missing[0]!r} is not a registered player")
        row = conn.execute(
            consensus_rounds.insert()
            .values(
                game_id=new.game_id,
                proposer_id=new.proposer_id,
                proposal_hash=digest,
                participant_count=len(voters),
                quorum=quorum_of(len(voters)),
            )
            .returning(consensus_rounds)
        ).one()
        conn.execute(
            consensus_participants.insert(),
            [{"round_number": row.round_number, "user_id": voter} for voter in voters],
        )
    return ConsensusRound.model_validate(row)


def cast_vote(
    target: Database | Connection,
    *,
    round_number: int,
    voter_id: str,
    signature: bytes | str,
) -> VoteResult:
    """Store a participant's vote if its signature verifies; count it towards the quorum
    unless the round is already final. A bad signature is refused and nothing is written."""
    signed = fixed_bytes(signature, "signature", SIGNATURE_BYTES)
    voter = validated(_Ballot, voter_id=voter_id).voter_id
    with writing(target) as conn:
        current = _round(conn, round_number)
        message = vote_message(current.round_number, current.proposal_hash)
        _verify(conn, current.round_number, voter, message, signed)
        locked = _round(conn, round_number, lock=True)  # voters are counted one at a time
        late = locked.finalized
        try:
            with conn.begin_nested():
                vote_row = conn.execute(
                    consensus_votes.insert()
                    .values(
                        id=uuid.uuid4().hex,
                        round_number=locked.round_number,
                        voter_id=voter,
                        vote_hash=hashlib.sha256(message).digest(),
                        signature=signed,
                        late=late,
                    )
                    .returning(consensus_votes)
                ).one()
        except IntegrityError:
            raise Conflict(
                f"voter_id: {voter!r} already voted in round {locked.round_number}"
            ) from None
        finalized_now = not late and locked.vote_count + 1 >= locked.quorum
        updated = locked
        if not late:
            updated = _count_vote(conn, locked, finalized_now)
    return VoteResult(
        vote=Vote.model_validate(vote_row), round=updated, finalized_now=finalized_now
    )


def get_round(target: Database | Connection, round_number: int) -> ConsensusRound | None:
    with reading(target) as conn:
        row = conn.execute(
            sa.select(consensus_rounds).where(consensus_rounds.c.round_number == round_number)
        ).first()
    return None if row is None else ConsensusRound.model_validate(row)


def get_votes(target: Database | Connection, round_number: int) -> list[Vote]:
    """The round's votes in the order they were stored (uq_consensus_votes_voter's index)."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(consensus_votes)
            .where(consensus_votes.c.round_number == round_number)
            .order_by(consensus_votes.c.created_at, consensus_votes.c.id)
            .limit(PARTICIPANTS_MAX)
        )
        return [Vote.model_validate(row) for row in rows]


def _verify(conn: Connection, round_number: int, voter: str, message: bytes, signed: bytes) -> None:
    registered = conn.execute(
        sa.select(consensus_participants.c.user_id).where(
            consensus_participants.c.round_number == round_number,
            consensus_participants.c.user_id == voter,
        )
    ).first()
    if registered is None:
        raise Conflict(f"voter_id: {voter!r} is not a participant of round {round_number}")
    key = public_keys(conn, [voter])[voter]
    try:
        VerifyKey(key).verify(message, signed)
    except BadSignatureError:
        raise InvalidInput(
            "signature",
            signed.hex(),
            f"does not verify against {voter!r}'s registered ed25519 key over round "
            f"{round_number}'s proposal",
        ) from None


def _round(conn: Connection, round_number: int, *, lock: bool = False) -> ConsensusRound:
    query = sa.select(consensus_rounds).where(consensus_rounds.c.round_number == round_number)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"round_number: consensus round {round_number} does not exist")
    return ConsensusRound.model_validate(row)


def _count_vote(conn: Connection, current: ConsensusRound, finalized_now: bool) -> ConsensusRound:
    values: dict[str, object] = {"vote_count": current.vote_count + 1}
    if finalized_now:
        values.update(finalized=True, finalized_at=utc_now())
    row = conn.execute(
        consensus_rounds.update()
        .where(consensus_rounds.c.round_number == current.round_number)
        .values(**values)
        .returning(consensus_rounds)
    ).one()
    return ConsensusRound.model_validate(row)
