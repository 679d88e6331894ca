"""The public verbs' signatures: explicit keywords (a typo is a TypeError naming it) and the
values a Literal parameter allows, shown by help(). (No database is involved: a signature is
checked before anything is opened.)"""

from __future__ import annotations

import inspect
import typing
from typing import Literal

import pytest

from chaindb import core, ledger
from chaindb.ledger.schema import TRANSFER_KINDS

# (verb, a call's keywords with one of them misspelt)
MISSPELT = [
    (core.log_security_event, {"event_type": "login", "descripton": "x"}),
    (core.log_admin_signature, {"admin_address": "0x0", "signature": "0x0", "mesage": "m"}),
    (core.log_blockchain_transaction, {"chain_id": 1, "transaction_hash": "0x0", "nonse": 1}),
    (core.record_contract_deployment, {"contract_name": "C", "chain_id": 1, "adress": "0x0"}),
    (ledger.transfer, {"debit": "user:a", "credit": "user:b", "amout": 5, "kind": "transfer"}),
    (ledger.post_pending, {"pending_id": 1, "amout": 5}),
    (ledger.void_pending, {"pending_id": 1, "reasn": "x"}),
]


@pytest.mark.parametrize(("verb", "keywords"), MISSPELT, ids=lambda v: getattr(v, "__name__", ""))
def test_a_misspelt_keyword_is_a_type_error_naming_it(verb, keywords):
    misspelt = next(name for name in keywords if name not in inspect.signature(verb).parameters)
    with pytest.raises(TypeError, match=misspelt):
        verb(None, **keywords)


@pytest.mark.parametrize(
    ("verb", "parameter", "values"),
    [
        (ledger.transfer, "kind", TRANSFER_KINDS),
        (ledger.post_pending, "kind", TRANSFER_KINDS),
        (ledger.void_pending, "kind", TRANSFER_KINDS),
        (core.log_security_event, "severity", ("info", "warning", "error", "critical")),
        (core.log_admin_signature, "signature_type", ("eip191", "eip712")),
        (
            core.update_blockchain_transaction_status,
            "status",
            ("pending", "success", "failed", "dropped", "replaced"),
        ),
    ],
)
def test_the_allowed_values_appear_in_the_signature(verb, parameter, values):
    shown = str(inspect.signature(verb).parameters[parameter])
    assert all(repr(value) in shown for value in values), shown
    hint = typing.get_type_hints(verb)[parameter]
    literals = [arg for arg in (hint, *typing.get_args(hint)) if typing.get_origin(arg) is Literal]
    assert [set(typing.get_args(literal)) for literal in literals] == [set(values)]


@pytest.mark.parametrize(
    "verb",
    [
        core.log_security_event,
        core.log_admin_signature,
        core.log_blockchain_transaction,
        core.record_contract_deployment,
        core.update_blockchain_transaction_status,
        ledger.transfer,
        ledger.post_pending,
        ledger.void_pending,
    ],
)
def test_no_public_verb_takes_arbitrary_keywords(verb):
    kinds = {p.kind for p in inspect.signature(verb).parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds


def test_the_points_transaction_types_in_the_signature_are_the_routes():
    from typing import get_args

    from chaindb.ledger import points

    assert set(get_args(points.PointsTransactionType)) == set(points._ROUTES)
