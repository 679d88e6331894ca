"""Consensus: votes stored only when their ed25519 signature verifies, one per voter, and a
round finalized exactly once at a Byzantine quorum, even with concurrent voters."""

from __future__ import annotations

import hashlib
import threading

import pytest
from nacl.signing import SigningKey

import chaindb
from chaindb import InvalidInput
from chaindb.errors import Conflict
from chaindb.games import cast_vote, create_user, get_round, get_votes, open_round, quorum_of
from chaindb.games import vote_message as message_for
from tests.games.conftest import PLAYERS, signing_key

PROPOSAL = hashlib.sha256(b"dice: 3 and 4").digest()


def signed(name: str, round_number: int, proposal: bytes = PROPOSAL) -> bytes:
    return signing_key(name).sign(message_for(round_number, proposal)).signature


@pytest.mark.parametrize(("participants", "quorum"), [(1, 1), (3, 3), (4, 3), (7, 5), (8, 6)])
def test_the_quorum_is_more_than_two_thirds(participants, quorum):
    assert quorum_of(participants) == quorum


def test_a_round_finalizes_when_more_than_two_thirds_have_voted(games_db):
    round_ = open_round(games_db, proposer_id="alice", proposal_hash=PROPOSAL, participants=PLAYERS)
    assert round_.quorum == 3
    for voter in ("alice", "bob"):
        result = cast_vote(
            games_db, round_number=round_.round_number, voter_id=voter,
            signature=signed(voter, round_.round_number),
        )  # fmt: skip
        assert not result.round.finalized
    third = cast_vote(
        games_db, round_number=round_.round_number, voter_id="carol",
        signature=signed("carol", round_.round_number),
    )  # fmt: skip
    assert third.finalized_now and third.round.finalized and third.round.vote_count == 3
    late = cast_vote(
        games_db, round_number=round_.round_number, voter_id="dave",
        signature=signed("dave", round_.round_number),
    )  # fmt: skip
    assert late.vote.late and not late.finalized_now
    assert late.round == third.round  # kept, but it changed nothing
    assert len(get_votes(games_db, round_.round_number)) == 4


def test_a_second_vote_by_the_same_voter_is_refused(games_db):
    round_ = open_round(games_db, proposer_id="alice", proposal_hash=PROPOSAL, participants=PLAYERS)
    vote = signed("bob", round_.round_number)
    cast_vote(games_db, round_number=round_.round_number, voter_id="bob", signature=vote)
    with pytest.raises(Conflict, match="already voted"):
        cast_vote(games_db, round_number=round_.round_number, voter_id="bob", signature=vote)
    assert get_round(games_db, round_.round_number).vote_count == 1


@pytest.mark.parametrize(
    "forgery",
    ["wrong key", "tampered proposal", "another round", "flipped bit"],
)
def test_a_vote_that_does_not_verify_is_refused_and_nothing_is_written(games_db, forgery):
    round_ = open_round(games_db, proposer_id="alice", proposal_hash=PROPOSAL, participants=PLAYERS)
    number = round_.round_number
    signature = {
        "wrong key": lambda: signed("carol", number),  # carol's key, in bob's name
        "tampered proposal": lambda: signed("bob", number, hashlib.sha256(b"6 and 6").digest()),
        "another round": lambda: signed("bob", number + 1),
        "flipped bit": lambda: bytes([signed("bob", number)[0] ^ 1]) + signed("bob", number)[1:],
    }[forgery]()
    with pytest.raises(InvalidInput, match="does not verify against 'bob'") as refused:
        cast_vote(games_db, round_number=number, voter_id="bob", signature=signature)
    assert refused.value.field == "signature"
    assert get_votes(games_db, number) == []
    assert get_round(games_db, number).vote_count == 0


def test_only_participants_vote_and_signatures_have_their_size(games_db):
    create_user(games_db, "erin", "erin", bytes(SigningKey.generate().verify_key))
    round_ = open_round(
        games_db, proposer_id="alice", proposal_hash=PROPOSAL, participants=["alice", "bob"]
    )
    with pytest.raises(Conflict, match="not a participant"):
        cast_vote(
            games_db, round_number=round_.round_number, voter_id="carol",
            signature=signed("carol", round_.round_number),
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="64 bytes"):
        cast_vote(games_db, round_number=round_.round_number, voter_id="bob", signature=b"x")
    with pytest.raises(InvalidInput, match="32 bytes"):
        open_round(games_db, proposer_id="alice", proposal_hash=b"short", participants=["bob"])


def test_eight_concurrent_voters_finalize_the_round_exactly_once(games_db):
    voters = [f"voter{n}" for n in range(8)]
    for name in voters:
        create_user(games_db, name, name, bytes(signing_key(name).verify_key))
    round_ = open_round(games_db, proposer_id="alice", proposal_hash=PROPOSAL, participants=voters)
    start = threading.Barrier(len(voters))
    results, errors = [], []

    def vote(name: str) -> None:
        database = chaindb.connect(games_db.url.render_as_string(hide_password=False))
        try:
            start.wait()
            results.append(
                cast_vote(
                    database,
                    round_number=round_.round_number,
                    voter_id=name,
                    signature=signed(name, round_.round_number),
                )
            )
        except Exception as error:
            errors.append(error)
        finally:
            database.close()

    threads = [threading.Thread(target=vote, args=(name,)) for name in voters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(result.finalized_now for result in results) == 1
    final = get_round(games_db, round_.round_number)
    assert final.finalized and final.vote_count == 6 == final.quorum
    votes = get_votes(games_db, round_.round_number)
    assert len(votes) == 8 and sum(vote.late for vote in votes) == 2
