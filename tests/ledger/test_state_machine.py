"""Random ledger operations against a model; after every step the ledger's rules must hold.

Each example runs in an asset of its own, so examples share a database but not accounts.
Invariants checked after every step: the asset's posted and pending amounts sum to zero
across its accounts; no user balance is negative; every stored counter equals what the
transfers recompute to; each hold is posted or voided at most once.
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chaindb import Conflict, ledger
from chaindb.ledger import InsufficientFunds
from chaindb.ledger.schema import ledger_accounts, ledger_holds, ledger_transfers
from chaindb.ledger.verify import COUNTERS, recompute

USERS = ("alice", "bob", "carol", "dave")
_assets = itertools.count(1)
amounts = st.one_of(
    st.integers(min_value=1, max_value=1_000),
    st.integers(min_value=2**63 - 3, max_value=2**63 + 3),  # across the 64-bit boundary
)


class LedgerMachine(RuleBasedStateMachine):
    db = None  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.balances = dict.fromkeys(USERS, 0)  # posted
        self.issued = dict.fromkeys(USERS, 0)  # net: issued minus returned
        self.held = dict.fromkeys(USERS, 0)
        self.holds: dict[int, tuple[str, int]] = {}  # open holds: id -> (user, amount)
        self.settled: set[int] = set()
        self.keyed: dict[str, dict] = {}

    @initialize()
    def fresh_asset(self) -> None:
        number = next(_assets)
        asset = ledger.ensure_token_asset(
            self.db, chain_id=1, token_address="0x" + f"{number:040x}", symbol="T", decimals=0
        )
        self.asset = asset.code
        self.asset_id = asset.id

    def _move(self, debit: str, credit: str, amount: int, kind: str, **extra) -> object:
        return ledger.transfer(
            self.db, asset=self.asset, debit=debit, credit=credit, amount=amount, kind=kind, **extra
        )

    def _available(self, user: str) -> int:
        return self.balances[user] - self.held[user]

    @rule(user=st.sampled_from(USERS), amount=amounts)
    def issue(self, user: str, amount: int) -> None:
        self._move("system:issuance", f"user:{user}", amount, "deposit")
        self.balances[user] += amount
        self.issued[user] += amount

    @rule(user=st.sampled_from(USERS), amount=amounts)
    def return_to_issuance(self, user: str, amount: int) -> None:
        """An undo (as a reorg's compensation does): issued goes down with the balance."""

        def give_back() -> object:
            return self._move(f"user:{user}", "system:issuance", amount, "adjustment")

        if amount > self.issued[user]:
            with pytest.raises(Conflict, match="more than"):
                give_back()
        elif self._spend(user, amount, give_back):
            self.issued[user] -= amount

    @rule(user=st.sampled_from(USERS), amount=amounts)
    def burn(self, user: str, amount: int) -> None:
        self._spend(
            user, amount, lambda: self._move(f"user:{user}", "system:burn", amount, "burned_usage")
        )

    @rule(sender=st.sampled_from(USERS), receiver=st.sampled_from(USERS), amount=amounts)
    def send(self, sender: str, receiver: str, amount: int) -> None:
        if sender == receiver:
            return
        if self._spend(
            sender,
            amount,
            lambda: self._move(f"user:{sender}", f"user:{receiver}", amount, "transfer"),
        ):
            self.balances[receiver] += amount

    @rule(user=st.sampled_from(USERS), amount=amounts)
    def place_hold(self, user: str, amount: int) -> None:
        def place() -> object:
            return self._move(
                f"user:{user}", "system:escrow", amount, "locked_escrow", pending=True
            )

        if amount > self._available(user):
            with pytest.raises(InsufficientFunds):
                place()
            return
        held = place()
        self.held[user] += amount
        self.holds[held.id] = (user, amount)

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), part=st.floats(min_value=0.0, max_value=1.0))
    def post_hold(self, data: st.DataObject, part: float) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        user, amount = self.holds.pop(hold_id)
        posted = max(1, int(amount * part))
        ledger.post_pending(self.db, hold_id, amount=posted)
        self.held[user] -= amount
        self.balances[user] -= posted
        self.settled.add(hold_id)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def void_hold(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        user, amount = self.holds.pop(hold_id)
        ledger.void_pending(self.db, hold_id)
        self.held[user] -= amount
        self.settled.add(hold_id)

    @precondition(lambda self: self.settled)
    @rule(data=st.data(), post=st.booleans())
    def settle_again_is_refused(self, data: st.DataObject, post: bool) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.settled)))
        with pytest.raises(Conflict, match="already posted or voided"):
            (ledger.post_pending if post else ledger.void_pending)(self.db, hold_id)

    @rule(user=st.sampled_from(USERS), amount=st.integers(1, 1_000), key=st.sampled_from("abc"))
    def issue_with_key(self, user: str, amount: int, key: str) -> None:
        idempotency_key = f"{self.asset}:{key}"
        request = {"user": user, "amount": amount}
        first = self.keyed.setdefault(idempotency_key, request)
        call = lambda: self._move(  # noqa: E731
            "system:issuance", f"user:{user}", amount, "deposit", idempotency_key=idempotency_key
        )
        if first is request:
            call()
            self.balances[user] += amount
            self.issued[user] += amount
        elif first == request:
            call()  # a retry: changes nothing
        else:
            with pytest.raises(Conflict, match="different transfer"):
                call()

    def _spend(self, user: str, amount: int, action) -> bool:
        if amount > self._available(user):
            with pytest.raises(InsufficientFunds):
                action()
            return False
        action()
        self.balances[user] -= amount
        return True

    @invariant()
    def ledger_rules_hold(self) -> None:
        if not hasattr(self, "asset_id"):
            return
        with self.db.read() as conn:
            accounts = [
                dict(row)
                for row in conn.execute(
                    sa.select(ledger_accounts).where(ledger_accounts.c.asset_id == self.asset_id)
                ).mappings()
            ]
            expected = recompute(conn, [a["id"] for a in accounts], accounts)
            open_holds = set(
                conn.execute(
                    sa.select(ledger_holds.c.transfer_id)
                    .join(ledger_transfers, ledger_transfers.c.id == ledger_holds.c.transfer_id)
                    .where(ledger_transfers.c.asset_id == self.asset_id)
                ).scalars()
            )
            settle_counts = conn.execute(
                sa.select(sa.func.count())
                .select_from(ledger_transfers)
                .where(
                    ledger_transfers.c.asset_id == self.asset_id,
                    ledger_transfers.c.pending_id.is_not(None),
                )
            ).scalar_one()
        assert sum(a["credits_posted"] for a in accounts) == sum(
            a["debits_posted"] for a in accounts
        )
        assert sum(a["credits_pending"] for a in accounts) == sum(
            a["debits_pending"] for a in accounts
        )
        for account in accounts:
            assert {c: account[c] for c in COUNTERS} == expected[account["id"]]
            if account["owner_type"] == "user":
                user = account["owner_id"]
                assert account["balance"] >= 0
                assert account["credits_posted"] - account["debits_posted"] == self.balances[user]
                assert account["debits_pending"] == self.held[user]
                assert account["issued"] == self.issued[user]
        assert open_holds == set(self.holds)
        assert settle_counts == len(self.settled)  # each settled hold: exactly one post or void


@pytest.mark.slow
def test_random_ledger_operations_keep_every_rule(ledger_db):
    LedgerMachine.db = ledger_db
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
