"""An account's history (newest first, running balance, keyset pages) and its open holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chaindb import InvalidInput, NotFound, ledger
from chaindb.ledger import history
from chaindb.types import UINT256_MAX


def issue(db, user, amount, **extra):
    return ledger.transfer(
        db, debit="system:issuance", credit=f"user:{user}", amount=amount, kind="deposit", **extra
    )


def send(db, sender, receiver, amount):
    return ledger.transfer(
        db, debit=f"user:{sender}", credit=f"user:{receiver}", amount=amount, kind="transfer"
    )


def hold(db, user, amount, **extra):
    return ledger.transfer(
        db,
        debit=f"user:{user}",
        credit="system:escrow",
        amount=amount,
        kind="locked_escrow",
        pending=True,
        **extra,
    )


def all_pages(db, account, limit):
    pages, before_id = [], None
    for _page in range(100):  # bound: the tests write far fewer transfers than 100 pages
        page = ledger.account_history(db, account, limit=limit, before_id=before_id)
        pages.append(page)
        before_id = page.next_before_id
        if before_id is None:
            return pages
    raise AssertionError("history never ended")


def test_history_is_newest_first_with_direction_counterparty_and_balance_after(ledger_db):
    issue(ledger_db, "alice", 100)
    send(ledger_db, "alice", "bob", 30)
    send(ledger_db, "bob", "alice", 5)
    page = ledger.account_history(ledger_db, "user:alice")
    assert [(e.direction, e.counterparty, e.amount, e.posted_after) for e in page.items] == [
        ("credit", "user:bob", 5, 75),
        ("debit", "user:bob", 30, 70),
        ("credit", "system:issuance", 100, 100),
    ]
    assert [e.kind for e in page.items] == ["transfer", "transfer", "deposit"]
    assert page.items[0].id > page.items[1].id > page.items[2].id
    assert (page.account, page.asset, page.next_before_id) == ("user:alice", "points", None)


def test_a_hold_moves_the_posted_balance_only_when_posted(ledger_db):
    issue(ledger_db, "alice", 100)
    voided = hold(ledger_db, "alice", 40)
    ledger.void_pending(ledger_db, voided.id)
    posted = hold(ledger_db, "alice", 30)
    ledger.post_pending(ledger_db, posted.id, amount=20)
    items = ledger.account_history(ledger_db, "user:alice").items
    assert [(e.phase, e.amount, e.posted_after) for e in items] == [
        ("post", 20, 80),
        ("pending", 30, 100),
        ("void", 40, 100),
        ("pending", 40, 100),
        ("single", 100, 100),
    ]
    assert items[0].pending_id == posted.id
    assert items[0].posted_after == ledger.get_balance(ledger_db, "user:alice").posted


def test_pages_join_up_and_keep_the_running_balance(ledger_db):
    amounts = [2**63 + n for n in range(7)]
    for amount in amounts:
        issue(ledger_db, "alice", amount)
    send(ledger_db, "alice", "bob", 2**63)
    whole = ledger.account_history(ledger_db, "user:alice", limit=100).items
    pages = all_pages(ledger_db, "user:alice", limit=3)
    assert [len(page.items) for page in pages] == [3, 3, 2]
    assert [e for page in pages for e in page.items] == whole
    assert whole[-1].posted_after == amounts[0]  # the first transfer, from a balance of 0
    assert whole[0].posted_after == sum(amounts) - 2**63


def test_a_system_account_may_show_a_negative_posted_balance(ledger_db):
    issue(ledger_db, "alice", UINT256_MAX)
    (entry,) = ledger.account_history(ledger_db, "system:issuance").items
    assert (entry.direction, entry.counterparty, entry.amount) == (
        "debit",
        "user:alice",
        UINT256_MAX,
    )
    assert entry.posted_after == -UINT256_MAX


def test_a_later_page_omits_the_balance_when_too_many_newer_transfers(ledger_db, monkeypatch):
    for amount in range(1, 6):
        issue(ledger_db, "alice", amount)
    monkeypatch.setattr(history, "RUNNING_BALANCE_SCAN_MAX", 2)
    pages = all_pages(ledger_db, "user:alice", limit=1)
    # The newest page starts from the counters; the next two add up 1 and 2 newer transfers
    # (within the bound); the last two would need 3 and 4.
    assert [(p.items[0].amount, p.items[0].posted_after) for p in pages] == [
        (5, 15),
        (4, 10),
        (3, 6),
        (2, None),
        (1, None),
    ]


def test_an_account_that_never_moved_has_no_history(ledger_db):
    page = ledger.account_history(ledger_db, "user:carol")
    assert (page.items, page.next_before_id) == ([], None)


def test_history_is_kept_per_asset(ledger_db):
    token = ledger.ensure_token_asset(
        ledger_db,
        chain_id=1,
        token_address="0x" + "ab" * 20,
        symbol="TKN",
        decimals=18,
    )
    ledger.transfer(
        ledger_db,
        debit="system:issuance",
        credit="user:alice",
        amount=10**18,
        kind="deposit",
        asset=token.code,
    )
    issue(ledger_db, "alice", 7)
    tokens = ledger.account_history(ledger_db, "user:alice", asset=token.code)
    assert [(e.amount, e.posted_after) for e in tokens.items] == [(10**18, 10**18)]
    with pytest.raises(NotFound, match="unknown"):
        ledger.account_history(ledger_db, "user:alice", asset="eip155:1/nothing")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"account": "alice"}, "account"),
        ({"limit": 0}, "limit"),
        ({"limit": history.ACCOUNT_HISTORY_LIMIT_MAX + 1}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"before_id": 0}, "before_id"),
        ({"before_id": True}, "before_id"),
    ],
)
def test_bad_history_arguments_name_the_field(ledger_db, arguments, field):
    arguments = dict(arguments)  # the same parameters serve both backends
    account = arguments.pop("account", "user:alice")
    with pytest.raises(InvalidInput, match=rf"^{field}: "):
        ledger.account_history(ledger_db, account, **arguments)


def test_open_holds_list_holds_until_settled_and_mark_the_expired(ledger_db):
    issue(ledger_db, "alice", 100)
    later = datetime.now(UTC) + timedelta(hours=1)
    due = hold(ledger_db, "alice", 10, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    kept = hold(ledger_db, "alice", 20, expires_at=later, reason="stake")
    settled = hold(ledger_db, "alice", 30)
    ledger.post_pending(ledger_db, settled.id)
    holds = ledger.open_holds(ledger_db).items
    assert [(h.id, h.amount, h.expired) for h in holds] == [
        (kept.id, 20, False),
        (due.id, 10, True),
    ]
    assert (holds[0].debit, holds[0].credit, holds[0].kind) == (
        "user:alice",
        "system:escrow",
        "locked_escrow",
    )
    assert (holds[0].expires_at, holds[0].reason) == (later, "stake")
    ledger.expire_holds(ledger_db)
    assert [h.id for h in ledger.open_holds(ledger_db).items] == [kept.id]


def test_an_accounts_holds_are_those_on_its_funds(ledger_db):
    issue(ledger_db, "alice", 100)
    issue(ledger_db, "bob", 2**64)
    alices = hold(ledger_db, "alice", 1)
    bobs = hold(ledger_db, "bob", 2**63)
    assert [h.id for h in ledger.open_holds(ledger_db, account="user:alice").items] == [alices.id]
    assert [h.id for h in ledger.open_holds(ledger_db, account="user:bob").items] == [bobs.id]
    assert ledger.open_holds(ledger_db, account="system:escrow").items == []  # credited, not held
    assert ledger.open_holds(ledger_db, account="user:carol").items == []


def test_open_holds_come_a_page_at_a_time(ledger_db):
    issue(ledger_db, "alice", 100)
    made = [hold(ledger_db, "alice", n).id for n in range(1, 6)]
    first = ledger.open_holds(ledger_db, limit=2)
    assert [h.id for h in first.items] == made[:-3:-1]
    rest = ledger.open_holds(ledger_db, limit=10, before_id=first.next_before_id)
    assert [h.id for h in rest.items] == made[-3::-1]
    assert rest.next_before_id is None
    with pytest.raises(InvalidInput, match=r"^limit: "):
        ledger.open_holds(ledger_db, limit=history.OPEN_HOLDS_LIMIT_MAX + 1)
