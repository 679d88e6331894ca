"""A batch's mappings are validated by a schema pydantic-core checks on its own (fast), falling
back to TransferRequest for anything it refuses. Both must accept the same inputs and give the
same values, and a refused input must be reported in TransferRequest's words.
(Validation only: no database is involved.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaindb import InvalidInput
from chaindb.ledger.accounts import AccountKey
from chaindb.ledger.requests import TransferItem, TransferRequest, transfer_items
from chaindb.types import UINT256_MAX
from chaindb.validation import validated

BASE = {"debit": "system:issuance", "credit": "user:alice", "amount": 5, "kind": "deposit"}
TX_HASH = "0x" + "Ab" * 32


def by_model(fields: dict[str, Any]) -> TransferItem | tuple[str, str]:
    try:
        return TransferItem.of(validated(TransferRequest, **fields))
    except InvalidInput as error:
        return error.field, error.rule


def by_batch(fields: dict[str, Any]) -> TransferItem | tuple[str, str]:
    try:
        [item] = transfer_items([fields])
    except InvalidInput as error:
        return error.field.removeprefix("0."), error.rule
    return item


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"amount": UINT256_MAX},
        {"amount": 2**63},
        {"amount": "12345"},  # digits as text: left to TransferRequest, which accepts them
        {"amount": "0012"},
        {"amount": 2**256},
        {"amount": 0},
        {"amount": -1},
        {"amount": True},
        {"amount": 1.0},
        {"amount": "1e3"},
        {"debit": AccountKey("system", "issuance")},
        {"credit": "user:" + "a" * 64},
        {"credit": "user:" + "a" * 65},
        {"credit": "user:a\nb"},
        {"credit": "system:Bad"},
        {"credit": "system:bonus\n"},
        {"credit": b"user:alice"},
        {"credit": "alice"},
        {"kind": "gift"},
        {"kind": None},
        {"pending": "true", "expires_at": datetime(2030, 1, 1, tzinfo=UTC)},
        {"pending": 2},
        {"expires_at": datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=2)))},
        {"expires_at": datetime(2030, 1, 1)},
        {"idempotency_key": "k" * 200, "reason": "why", "challenge_id": 7},
        {"idempotency_key": ""},
        {"challenge_id": 0},
        {"chain_tx_hash": TX_HASH},
        {"chain_tx_hash": "0x12"},
        {"asset": ""},
        {"surplus": 1},
    ],
)
def test_a_batch_item_gets_what_a_single_request_gets(changes):
    fields = {**BASE, **changes}
    assert by_batch(fields) == by_model(fields)


def test_a_missing_field_is_named_as_a_single_request_names_it():
    for name in ("debit", "credit", "amount", "kind"):
        fields = {k: v for k, v in BASE.items() if k != name}
        assert by_batch(fields) == by_model(fields) == (name, "Field required")


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.floats(allow_nan=False),
    st.text(max_size=80),
    st.sampled_from(
        ["user:alice", "system:escrow", "system:Escrow", "deposit", "points", TX_HASH, "42"]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from([*BASE, "asset", "pending", "idempotency_key", "reason", "challenge_id"]),
        ANY_VALUE,
        max_size=4,
    )
)
def test_any_batch_item_gets_what_a_single_request_gets(changes):
    fields = {**BASE, **changes}
    assert by_batch(fields) == by_model(fields)


def test_a_batch_of_mappings_gives_the_items_of_its_requests():
    items = [
        {**BASE, "amount": n, "credit": f"user:u{n}", "idempotency_key": f"k{n}"}
        for n in range(1, 50)
    ]
    assert transfer_items(items) == [TransferItem.of(TransferRequest(**fields)) for fields in items]
