"""Games and bets: stakes are ledger holds, the deciding roll settles each bet once, exactly."""

from __future__ import annotations

import pytest

from chaindb import InvalidInput, ledger
from chaindb.errors import Conflict
from chaindb.games import (
    CRAP,
    HOUSE,
    create_game,
    deposit,
    get_audit_log,
    get_bets,
    get_game,
    get_token_balance,
    place_bet,
    place_bets,
    pool_balance,
    resolve_game,
    roll_dice,
)
from tests.games.conftest import HOUSE_CRAP, START_CRAP


def test_a_bet_holds_the_stake_and_the_same_crap_cannot_be_bet_twice(games_db):
    game = create_game(games_db, game_id="g1")
    place_bet(games_db, game_id=game.id, player_id="alice", bet_type="pass", amount=600_000)
    balance = get_token_balance(games_db, "alice")
    assert (balance.balance, balance.locked_balance) == (400_000, 600_000)
    with pytest.raises(ledger.InsufficientFunds, match="user:alice"):
        place_bet(games_db, game_id=game.id, player_id="alice", bet_type="field", amount=400_001)
    assert get_token_balance(games_db, "alice").locked_balance == 600_000
    assert get_game(games_db, "g1").pot_size == 600_000


def test_placing_the_same_bet_id_again_returns_the_first_bet(games_db):
    create_game(games_db, game_id="g1")
    bet_id = bytes(range(16))
    first = place_bet(
        games_db, game_id="g1", player_id="bob", bet_type="pass", amount=10, bet_id=bet_id
    )
    again = place_bet(
        games_db, game_id="g1", player_id="bob", bet_type="pass", amount=10, bet_id=bet_id.hex()
    )
    assert again == first
    assert get_token_balance(games_db, "bob").locked_balance == 10
    with pytest.raises(Conflict, match="other terms"):
        place_bet(
            games_db, game_id="g1", player_id="bob", bet_type="pass", amount=11, bet_id=bet_id
        )


def test_a_natural_pays_pass_even_money_and_takes_dont_pass(games_db):
    create_game(games_db, game_id="g1")
    won = place_bet(games_db, game_id="g1", player_id="alice", bet_type="pass", amount=1_001)
    lost = place_bet(games_db, game_id="g1", player_id="bob", bet_type="dont_pass", amount=500)
    result = roll_dice(games_db, game_id="g1", die1=3, die2=4)
    assert result.game.phase == "resolved" and result.game.winner_id == "alice"
    settlement = result.settlement
    assert settlement.outcomes == {won.id.hex(): "won", lost.id.hex(): "lost"}
    assert settlement.payouts[won.id.hex()] == 1_001
    alice, bob = get_token_balance(games_db, "alice"), get_token_balance(games_db, "bob")
    assert (alice.balance, alice.locked_balance) == (START_CRAP + 1_001, 0)
    assert (bob.balance, bob.locked_balance) == (START_CRAP - 500, 0)
    assert pool_balance(games_db, "house").posted == HOUSE_CRAP - 1_001 + 500


def test_odds_are_paid_exactly_and_rounded_down(games_db):
    create_game(games_db, game_id="g1")
    roll_dice(games_db, game_id="g1", die1=3, die2=3)  # point 6: pass odds pay 6:5
    odds = place_bet(games_db, game_id="g1", player_id="carol", bet_type="pass_odds", amount=7)
    dont = place_bet(games_db, game_id="g1", player_id="dave", bet_type="dont_pass_odds", amount=11)
    roll_dice(games_db, game_id="g1", die1=2, die2=2)  # a 4: nothing decided
    result = roll_dice(games_db, game_id="g1", die1=1, die2=5)  # the point: made
    assert result.settlement.payouts == {odds.id.hex(): 8, dont.id.hex(): 0}  # 7 * 6 // 5
    assert get_token_balance(games_db, "carol").balance == START_CRAP + 8
    assert get_token_balance(games_db, "dave").balance == START_CRAP - 11


def test_bar_twelve_pushes_dont_pass_and_the_stake_comes_back(games_db):
    create_game(games_db, game_id="g1")
    push = place_bet(games_db, game_id="g1", player_id="dave", bet_type="dont_pass", amount=99)
    result = roll_dice(games_db, game_id="g1", die1=6, die2=6)
    assert result.settlement.outcomes == {push.id.hex(): "push"}
    assert get_token_balance(games_db, "dave").balance == START_CRAP


def test_one_roll_bets_are_decided_by_the_next_roll(games_db):
    create_game(games_db, game_id="g1")
    roll_dice(games_db, game_id="g1", die1=4, die2=4)  # point 8
    field = place_bet(games_db, game_id="g1", player_id="alice", bet_type="field", amount=10)
    twelve = place_bet(games_db, game_id="g1", player_id="bob", bet_type="twelve", amount=10)
    hard8 = place_bet(games_db, game_id="g1", player_id="carol", bet_type="hard8", amount=10)
    roll_dice(games_db, game_id="g1", die1=6, die2=6)  # 12: field pays 2:1, twelve 30:1
    result = roll_dice(games_db, game_id="g1", die1=3, die2=4)  # seven-out: hard 8 loses
    assert result.settlement.payouts[field.id.hex()] == 20
    assert result.settlement.payouts[twelve.id.hex()] == 300
    assert result.settlement.outcomes[hard8.id.hex()] == "lost"


def test_resolving_twice_pays_once_and_a_bet_on_a_resolved_game_is_refused(games_db):
    create_game(games_db, game_id="g1")
    place_bet(games_db, game_id="g1", player_id="alice", bet_type="pass", amount=100)
    first = roll_dice(games_db, game_id="g1", die1=5, die2=6).settlement
    again = resolve_game(games_db, "g1")
    assert again == first
    assert get_token_balance(games_db, "alice").balance == START_CRAP + 100
    with pytest.raises(Conflict, match="resolved"):
        place_bet(games_db, game_id="g1", player_id="bob", bet_type="field", amount=1)
    with pytest.raises(Conflict, match="resolved"):
        roll_dice(games_db, game_id="g1", die1=1, die2=1)
    assert ledger.check_ledger(games_db).ok


def test_a_game_not_yet_decided_cannot_be_resolved(games_db):
    create_game(games_db, game_id="g1")
    roll_dice(games_db, game_id="g1", die1=2, die2=3)
    with pytest.raises(Conflict, match="not decided"):
        resolve_game(games_db, "g1")


def test_line_bets_wait_for_the_come_out_and_odds_for_a_point(games_db):
    create_game(games_db, game_id="g1")
    with pytest.raises(Conflict, match="odds bets need a point"):
        place_bet(games_db, game_id="g1", player_id="alice", bet_type="pass_odds", amount=1)
    roll_dice(games_db, game_id="g1", die1=2, die2=2)
    with pytest.raises(Conflict, match="before the come-out"):
        place_bet(games_db, game_id="g1", player_id="alice", bet_type="pass", amount=1)


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("amount", 0, "must be > 0"),
        ("amount", -1, "must be >= 0"),
        ("amount", 1.5, "must be an integer"),
        ("amount", 2**256, "uint256"),
        ("bet_type", "roulette", "Input should be"),
        ("bet_id", b"short", "16 bytes"),
    ],
)
def test_bad_bets_are_refused_naming_the_field_and_write_nothing(games_db, field, value, rule):
    create_game(games_db, game_id="g1")
    bet = {"game_id": "g1", "player_id": "alice", "bet_type": "pass", "amount": 5}
    with pytest.raises(InvalidInput, match=rule) as refused:
        place_bet(games_db, **{**bet, field: value})
    assert refused.value.field == field
    assert get_bets(games_db, "g1") == []
    assert get_token_balance(games_db, "alice").locked_balance == 0


def test_amounts_cross_2_63_and_reach_2_256_minus_1(games_db):
    from chaindb import games

    issued_so_far = HOUSE_CRAP + 4 * START_CRAP
    games.fund_pool(games_db, pool="house", amount=2**256 - 1 - issued_so_far - 2**64)
    games.deposit(games_db, user_id="carol", amount=2**64)  # every unit there can be, issued
    issuance = ledger.get_account(games_db, "system:issuance", CRAP)
    assert issuance.debits_posted == 2**256 - 1
    create_game(games_db, game_id="big")
    bet = place_bet(games_db, game_id="big", player_id="carol", bet_type="pass", amount=2**63 + 5)
    assert get_game(games_db, "big").pot_size == 2**63 + 5
    assert get_token_balance(games_db, "carol").locked_balance == 2**63 + 5
    result = roll_dice(games_db, game_id="big", die1=6, die2=5)
    assert result.settlement.payouts[bet.id.hex()] == 2**63 + 5
    assert get_token_balance(games_db, "carol").balance == START_CRAP + 2**64 + 2**63 + 5
    house = ledger.get_balance(games_db, HOUSE, CRAP)
    assert house.posted == 2**256 - 1 - 4 * START_CRAP - 2**64 - 2**63 - 5
    assert pool_balance(games_db, "house") == house
    assert ledger.check_ledger(games_db).ok


def test_a_batch_of_bets_is_held_in_one_transaction_all_or_none(games_db):
    create_game(games_db, game_id="g1")
    batch = [
        {"game_id": "g1", "player_id": player, "bet_type": "pass", "amount": 100,
         "bet_id": bytes([n]) * 16}
        for n, player in enumerate(("alice", "bob", "carol"), start=1)
    ]  # fmt: skip
    placed = place_bets(games_db, batch)
    assert [bet.amount for bet in placed] == [100, 100, 100]
    assert place_bets(games_db, batch) == placed  # a retried batch places nothing more
    assert get_game(games_db, "g1").pot_size == 300
    too_much = [{**batch[0], "bet_id": b"\x09" * 16}, {**batch[1], "bet_id": b"\x0a" * 16,
                "amount": START_CRAP}]  # fmt: skip
    with pytest.raises(ledger.InsufficientFunds, match="user:bob"):
        place_bets(games_db, too_much)
    assert get_token_balance(games_db, "alice").locked_balance == 100  # the first refused too
    with pytest.raises(InvalidInput) as refused:
        place_bets(games_db, [{**batch[0], "bet_id": b"\x0b" * 16, "amount": -1}])
    assert refused.value.field == "bets[0].amount"
    result = roll_dice(games_db, game_id="g1", die1=5, die2=6)
    assert sorted(result.settlement.outcomes.values()) == ["won", "won", "won"]


def test_a_bet_retried_after_its_game_resolved_returns_the_first_bet(games_db):
    create_game(games_db, game_id="g1")
    first = place_bet(games_db, game_id="g1", player_id="carol", bet_type="pass",
                      amount=START_CRAP, bet_id=b"\x01" * 16)  # fmt: skip
    roll_dice(games_db, game_id="g1", die1=5, die2=6)  # resolved, carol's balance moved
    again = place_bet(games_db, game_id="g1", player_id="carol", bet_type="pass",
                      amount=START_CRAP, bet_id=b"\x01" * 16)  # fmt: skip
    assert again.id == first.id and again.outcome == "won"
    with pytest.raises(Conflict, match="resolved"):
        place_bet(games_db, game_id="g1", player_id="carol", bet_type="pass", amount=1)


def test_a_large_batch_is_audited_bet_by_bet_and_retried_whole(games_db):
    create_game(games_db, game_id="g1")
    players = ("alice", "bob", "carol", "dave")
    batch = [
        {"game_id": "g1", "player_id": players[n % 4], "bet_type": "field", "amount": 2**53 + n,
         "bet_id": n.to_bytes(16, "big")}
        for n in range(1, 121)  # past bet_statements.COPY_ROWS_MIN: PostgreSQL copies them
    ]  # fmt: skip
    for player in players:
        deposit(games_db, user_id=player, amount=2**60)
    placed = place_bets(games_db, batch)
    assert place_bets(games_db, batch) == placed
    assert get_bets(games_db, "g1") == sorted(placed, key=lambda bet: bet.id)
    trail = get_audit_log(games_db, entity_type="bet", entity_id=placed[7].id.hex())
    assert [(e.actor, e.action, e.after["amount"]) for e in trail] == [
        ("alice", "place", str(2**53 + 8)),
    ]  # fmt: skip
    balance = get_audit_log(games_db, entity_type="balance", entity_id="bob")[-1]
    staked = sum(2**53 + n for n in range(1, 121) if n % 4 == 1)
    assert (balance.before["balance"], balance.after["balance"]) == (
        str(START_CRAP + 2**60), str(START_CRAP + 2**60 - staked),
    )  # fmt: skip
    with pytest.raises(Conflict, match="some of these bet ids exist"):
        place_bets(games_db, [batch[0], {**batch[1], "bet_id": b"\xff" * 16}])


@pytest.mark.parametrize(
    ("changed", "field", "rule"),
    [
        ({"amount": 0}, "amount", "must be > 0"),
        ({"amount": True}, "amount", "must be an integer"),
        ({"amount": 2**256}, "amount", "uint256"),
        ({"bet_id": b"short"}, "bet_id", "16 bytes"),
        ({"bet_type": "roulette"}, "bet_type", "Input should be"),
        ({"player_id": ""}, "player_id", "at least 1 character"),
        ({"player_id": "a" * 65}, "player_id", "at most 64 characters"),
        ({"player_id": 7}, "player_id", "valid string"),
        ({"table": 3}, "table", "Extra inputs"),
    ],
)
def test_a_batch_names_the_item_and_rule_it_refuses_and_writes_nothing(
    games_db, changed, field, rule
):
    """A batch of plain items is checked once per distinct player and bet type: whatever
    breaks a rule in one item still refuses the batch, naming that item."""
    create_game(games_db, game_id="g1")
    batch = [
        {"game_id": "g1", "player_id": "alice", "bet_type": "field", "amount": 5,
         "bet_id": bytes([n]) * 16}
        for n in range(1, 4)
    ]  # fmt: skip
    batch[2] |= changed
    with pytest.raises(InvalidInput, match=rule) as refused:
        place_bets(games_db, batch)
    assert refused.value.field == f"bets[2].{field}"
    assert get_bets(games_db, "g1") == []
    assert get_token_balance(games_db, "alice").locked_balance == 0


def test_a_batch_takes_amounts_and_ids_as_text_as_a_single_bet_does(games_db):
    create_game(games_db, game_id="g1")
    batch = [
        {"game_id": "g1", "player_id": "bob", "bet_type": "pass", "amount": 5,
         "bet_id": b"\x01" * 16},
        {"game_id": "g1", "player_id": "bob", "bet_type": "pass", "amount": "7",
         "bet_id": (b"\x02" * 16).hex()},
    ]  # fmt: skip
    placed = place_bets(games_db, batch)
    assert [(bet.id, bet.amount) for bet in placed] == [(b"\x01" * 16, 5), (b"\x02" * 16, 7)]
    assert get_token_balance(games_db, "bob").locked_balance == 12
