"""A write's accounts and the transfers it will insert: TigerBeetle's rules on the counters.

The engine (ledger.engine) locks the accounts a write touches and applies its transfers here,
in order, one `move` each: every counter a transfer changes, on both accounts, in memory; a
counter past 2**256 - 1 or an overdraft refuses the whole write. The engine then stores the
counters that changed, once per account, whatever the number of transfers.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any

from chaindb.errors import Conflict
from chaindb.ledger.accounts import BURN, ISSUANCE
from chaindb.ledger.requests import InsufficientFunds, Transfer
from chaindb.ledger.schema import ACCOUNT_COUNTERS
from chaindb.types import UINT256_MAX


class Batch:
    """The accounts of one write, locked, and the transfers it will insert."""

    def __init__(
        self,
        accounts: dict[int, dict[str, Any]],
        codes: dict[int, str],
        ids: Iterator[int],
        has_expired_holds: Callable[[int], bool],
    ) -> None:
        self.accounts = accounts
        self.codes = codes
        self.ids = ids  # the next transfer's id (0: the insert assigns it)
        self.has_expired_holds = has_expired_holds
        self.system = {i for i, account in accounts.items() if account["owner_type"] == "system"}
        # Tuples of numbers: the garbage collector stops tracking them (lists it would follow).
        self.before = {i: _COUNTERS_OF(account) for i, account in accounts.items()}
        self.rows: list[Transfer] = []

    def move(self, debit_id: int, credit_id: int, amount: int, phase: str, held: int = 0) -> None:
        """Apply one transfer's effect on both accounts' counters (TigerBeetle's rules), or
        refuse it: a counter past 2**256 - 1, or an overdraft."""
        debit, credit = self.accounts[debit_id], self.accounts[credit_id]
        if phase == "single":
            debit["debits_posted"] += amount
            credit["credits_posted"] += amount
            debit_available, credit_available = -amount, amount
        elif phase == "pending":
            debit["debits_pending"] += amount
            credit["credits_pending"] += amount
            debit_available, credit_available = -amount, 0
        else:  # post (amount <= held) or void (amount == 0): the hold ends either way
            debit["debits_pending"] -= held
            credit["credits_pending"] -= held
            debit["debits_posted"] += amount
            credit["credits_posted"] += amount
            debit_available, credit_available = held - amount, amount
        # `balance` (what is available) is kept only where overdraft is forbidden.
        if debit["balance"] is not None:
            debit["balance"] += debit_available
        if credit["balance"] is not None:
            credit["balance"] += credit_available
        debit_column, credit_column = _GROWN[phase]  # the only counters that can overflow
        if debit[debit_column] > UINT256_MAX:
            raise _overflow(debit, debit_column)
        if credit[credit_column] > UINT256_MAX:
            raise _overflow(credit, credit_column)
        if amount and phase != "pending" and (debit_id in self.system or credit_id in self.system):
            self._net_figures(debit, credit, amount)
        debit["transfer_count"] += 1
        credit["transfer_count"] += 1
        if debit_available < 0 and debit["balance"] is not None and debit["balance"] < 0:
            self._refuse_overdraft(debit, amount)

    def _net_figures(self, debit: dict[str, Any], credit: dict[str, Any], amount: int) -> None:
        """A transfer out of issuance issues (into burn, burns); a return to issuance undoes an
        issue (out of burn, a burn)."""
        if _is_system(debit, ISSUANCE):
            self._add(credit, "issued", amount)
        if _is_system(credit, ISSUANCE):
            self._take(debit, "issued", amount, "was issued")
        if _is_system(credit, BURN):
            self._add(debit, "burned", amount)
        if _is_system(debit, BURN):
            self._take(credit, "burned", amount, "was burned")

    def changed(self) -> list[dict[str, Any]]:
        """The accounts this write moved (each move counts a transfer on both), in id order."""
        count = ACCOUNT_COUNTERS.index("transfer_count")
        return [
            account
            for i, account in sorted(self.accounts.items())
            if account["transfer_count"] != self.before[i][count]
        ]

    def changed_counters(self, changed: list[dict[str, Any]]) -> tuple[str, ...]:
        """The counters this write changed on some account: the ones to store."""
        return tuple(
            name
            for n, name in enumerate(ACCOUNT_COUNTERS)
            if any(account[name] != self.before[account["id"]][n] for account in changed)
        )

    def _refuse_overdraft(self, debit: dict[str, Any], amount: int) -> None:
        raise InsufficientFunds(
            f"{debit['owner_type']}:{debit['owner_id']}",
            self.codes.get(debit["asset_id"], f"asset {debit['asset_id']}"),
            debit["balance"] + amount,
            amount,
            debit["debits_pending"] > 0 and self.has_expired_holds(debit["id"]),
        )

    @staticmethod
    def _add(account: dict[str, Any], column: str, amount: int) -> None:
        account[column] += amount
        if account[column] > UINT256_MAX:
            raise _overflow(account, column)

    @staticmethod
    def _take(account: dict[str, Any], column: str, amount: int, what: str) -> None:
        if account[column] < amount:
            raise Conflict(
                f"account {account['owner_type']}:{account['owner_id']} would return {amount}, "
                f"more than {account[column]} that {what}"
            )
        account[column] -= amount


# The counters a transfer of each phase makes grow, on its debit and on its credit account.
_GROWN = {
    "single": ("debits_posted", "credits_posted"),
    "pending": ("debits_pending", "credits_pending"),
    "post": ("debits_posted", "credits_posted"),
    "void": ("debits_posted", "credits_posted"),  # by 0: a void posts nothing
}


_COUNTERS_OF = operator.itemgetter(*ACCOUNT_COUNTERS)


def _is_system(account: dict[str, Any], name: str) -> bool:
    return account["owner_type"] == "system" and account["owner_id"] == name


def _overflow(account: dict[str, Any], column: str) -> Conflict:
    return Conflict(f"{column} of account {account['id']} would exceed 2**256 - 1")
