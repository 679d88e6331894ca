"""The seed's repositories as functions: users, games, transactions, stats; audit, peers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chaindb import InvalidInput, core
from chaindb.errors import Conflict, NotFound
from chaindb.games import (
    create_game,
    create_user,
    deposit,
    get_active_games,
    get_audit_log,
    get_connected_peers,
    get_game_statistics,
    get_player_stats,
    get_transaction_history,
    get_user,
    leaderboard,
    load_game_state,
    place_bet,
    record_peer_connected,
    record_peer_disconnected,
    record_peer_seen,
    roll_dice,
    save_game_state,
    update_reputation,
)
from tests.games.conftest import signing_key


def test_create_user_registers_a_public_key_and_get_user_reads_it(core_db):
    key = bytes(signing_key("user123").verify_key)
    created = create_user(core_db, "user123", "alice", key)
    assert (created.id, created.username, created.public_key) == ("user123", "alice", key)
    assert created.reputation == Decimal("0.00")
    assert get_user(core_db, "user123") == created
    assert core.get_user(core_db, "user123").username == "alice"  # one users table: core's
    assert create_user(core_db, "user123", "alice", key) == created
    with pytest.raises(Conflict, match="another public key"):
        create_user(core_db, "user123", "alice", b"\x01" * 32)
    with pytest.raises(Conflict, match="registered to another player"):
        create_user(core_db, "user456", "bob", key)
    assert core.get_user(core_db, "user456") is None  # refused whole: no user either


def test_update_reputation_keeps_two_decimals_within_bounds(games_db):
    assert update_reputation(games_db, "alice", 4.5).reputation == Decimal("4.50")
    for bad in (5.01, -0.5, "4.555"):
        with pytest.raises(InvalidInput) as refused:
            update_reputation(games_db, "alice", bad)
        assert refused.value.field == "reputation"
    assert get_user(games_db, "alice").reputation == Decimal("4.50")
    with pytest.raises(NotFound):
        update_reputation(games_db, "nobody", 1)
    trail = get_audit_log(games_db, entity_type="player", entity_id="alice")
    assert [(e.action, e.before, e.after) for e in trail][-1] == (
        "reputation", {"reputation": "0.00"}, {"reputation": "4.50"},
    )  # fmt: skip


def test_a_public_key_must_be_32_bytes(core_db):
    with pytest.raises(InvalidInput, match="32 bytes") as refused:
        create_user(core_db, "u", "u", b"\x01" * 31)
    assert refused.value.field == "public_key"
    assert core.get_user(core_db, "u") is None


def test_game_state_is_saved_and_loaded_and_active_games_listed(games_db):
    create_game(games_db, game_id="a", state={"table": 1})
    create_game(games_db, game_id="b")
    save_game_state(games_db, "a", {"table": 1, "shooter": "bob"})
    assert load_game_state(games_db, "a") == {"table": 1, "shooter": "bob"}
    roll_dice(games_db, game_id="b", die1=6, die2=1)  # a natural: b is resolved
    assert [game.id for game in get_active_games(games_db)] == ["a"]
    with pytest.raises(Conflict, match="already exists"):
        create_game(games_db, game_id="a")
    with pytest.raises(NotFound):
        load_game_state(games_db, "zzz")


def test_stats_and_leaderboards_are_kept_in_step_on_resolution(games_db):
    for game_id, dice in (("g1", (3, 4)), ("g2", (1, 1))):
        create_game(games_db, game_id=game_id)
        place_bet(games_db, game_id=game_id, player_id="alice", bet_type="pass", amount=100)
        place_bet(games_db, game_id=game_id, player_id="bob", bet_type="dont_pass", amount=40)
        place_bet(games_db, game_id=game_id, player_id="carol", bet_type="any_craps", amount=10)
        roll_dice(games_db, game_id=game_id, die1=dice[0], die2=dice[1])
    alice = get_player_stats(games_db, "alice")
    assert (alice.games_played, alice.games_won, alice.bets_won, alice.bets_lost) == (2, 1, 1, 1)
    assert (alice.total_wagered, alice.total_winnings, alice.total_losses) == (200, 100, 100)
    carol = get_player_stats(games_db, "carol")  # any craps pays 7:1 on snake eyes
    assert (carol.total_winnings, carol.games_won) == (70, 1)
    by_winnings = leaderboard(games_db, by="winnings", limit=3)
    assert [(row.rank, row.user_id, row.value) for row in by_winnings] == [
        (1, "alice", 100), (2, "carol", 70), (3, "bob", 40),
    ]  # fmt: skip
    by_games = leaderboard(games_db, by="games_won")
    assert [(row.rank, row.value) for row in by_games] == [(1, 1), (1, 1), (1, 1)]
    assert get_game_statistics(games_db, "g2").house_take == 100 + 0
    assert get_game_statistics(games_db, "g1").total_paid_out == 100
    with pytest.raises(InvalidInput) as refused:
        leaderboard(games_db, by="losses")
    assert refused.value.field == "by"


def test_the_transaction_history_is_the_ledgers(games_db):
    create_game(games_db, game_id="g1")
    place_bet(games_db, game_id="g1", player_id="dave", bet_type="pass", amount=5)
    history = get_transaction_history(games_db, "dave", limit=10)
    assert [(item.kind, item.phase, item.amount) for item in history.items] == [
        ("locked_escrow", "pending", 5), ("deposit", "single", 1_000_000),
    ]  # fmt: skip
    assert get_transaction_history(games_db, "nobody").items == []


def test_every_change_is_audited_in_its_transaction(games_db):
    create_game(games_db, game_id="g1")
    bet = place_bet(games_db, game_id="g1", player_id="alice", bet_type="pass", amount=7)
    roll_dice(games_db, game_id="g1", die1=5, die2=6)
    bet_trail = get_audit_log(games_db, entity_type="bet", entity_id=bet.id.hex())
    assert [(e.actor, e.action) for e in bet_trail] == [("alice", "place"), ("system", "settle")]
    assert bet_trail[-1].after == {"outcome": "won", "payout": 7}
    balance = get_audit_log(games_db, entity_type="balance", entity_id="alice")
    assert [(e.action, e.before["balance"], e.after["balance"]) for e in balance] == [
        ("deposit", 0, 1_000_000), ("bet", 1_000_000, 999_993), ("settle", 999_993, 1_000_007),
    ]  # fmt: skip
    game = get_audit_log(games_db, entity_type="game", entity_id="g1")
    assert [e.action for e in game] == ["create", "bet", "roll"]
    with pytest.raises(Exception):  # noqa: B017 - a refused bet leaves no trail
        place_bet(games_db, game_id="g1", player_id="alice", bet_type="field", amount=1)
    assert len(get_audit_log(games_db, entity_type="balance", entity_id="alice")) == 3


def test_peers_connect_report_traffic_and_disconnect(games_db):
    record_peer_connected(games_db, peer_id="p1", address="10.0.0.2:8333", transport="tcp")
    again = record_peer_connected(games_db, peer_id="p1", address="10.0.0.2:8333", transport="tcp")
    seen = record_peer_seen(games_db, peer_id="p1", bytes_sent=2**40, latency_ms=12)
    seen = record_peer_seen(games_db, peer_id="p1", bytes_sent=1, bytes_received=5)
    assert (seen.id, seen.bytes_sent, seen.bytes_received, seen.latency_ms) == (
        again.id, 2**40 + 1, 5, 12,
    )  # fmt: skip
    assert [peer.peer_id for peer in get_connected_peers(games_db)] == ["p1"]
    record_peer_disconnected(games_db, peer_id="p1")
    assert get_connected_peers(games_db) == []
    with pytest.raises(InvalidInput) as refused:
        record_peer_connected(games_db, peer_id="p2", address="x", transport="carrier pigeon")
    assert refused.value.field == "transport"


def test_deposits_are_idempotent_by_key(games_db):
    first = deposit(games_db, user_id="bob", amount=5, idempotency_key="topup-1")
    assert deposit(games_db, user_id="bob", amount=5, idempotency_key="topup-1") == first
    history = get_transaction_history(games_db, "bob")
    assert [item.amount for item in history.items] == [5, 1_000_000]
