"""What a ledger write asks for (transfer, post, void) and what it returns (Transfer)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BeforeValidator, ConfigDict, Field, PlainValidator, StringConstraints

from chaindb.errors import ChaindbError, InvalidInput
from chaindb.ledger.accounts import AccountKey
from chaindb.ledger.schema import IDEMPOTENCY_KEY_LENGTH, TRANSFER_KINDS
from chaindb.types import RowId, TxHash, UtcDatetime, amount_rule
from chaindb.validation import Input, validated_list

Kind = Literal[TRANSFER_KINDS]  # type: ignore[valid-type]
PositiveAmount = Annotated[int, BeforeValidator(amount_rule), Field(gt=0)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=IDEMPOTENCY_KEY_LENGTH)]
Reason = Annotated[str, StringConstraints(max_length=1000)]


def _account_rule(value: object) -> AccountKey:
    try:
        return AccountKey.parse(value)
    except InvalidInput as error:
        raise ValueError(error.rule) from None


# PlainValidator: the rule alone decides (pydantic would otherwise re-check the named tuple).
AccountRef = Annotated[AccountKey, PlainValidator(_account_rule)]


class InsufficientFunds(ChaindbError):
    """A transfer would take an account that forbids overdraft below zero. Nothing was written."""

    def __init__(
        self, account: str, asset: str, available: int, amount: int, expired: bool
    ) -> None:
        self.account = account
        self.available = available
        self.amount = amount
        self.expired_holds = expired
        super().__init__(
            f"insufficient funds: {account} has {available} {asset} available, "
            f"the transfer needs {amount}"
        )


class TransferRequest(Input):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    debit: AccountRef
    credit: AccountRef
    amount: PositiveAmount
    kind: Kind
    asset: Annotated[str, StringConstraints(min_length=1, max_length=120)] = "points"
    pending: bool = False
    expires_at: UtcDatetime | None = None
    idempotency_key: IdempotencyKey | None = None
    reason: Reason | None = None
    challenge_id: RowId | None = None
    chain_tx_hash: TxHash | None = None


class PostRequest(Input):
    pending_id: RowId
    amount: PositiveAmount | None = None
    kind: Kind = "released_escrow"
    idempotency_key: IdempotencyKey | None = None
    reason: Reason | None = None
    chain_tx_hash: TxHash | None = None


class VoidRequest(Input):
    pending_id: RowId
    kind: Kind = "refunded"
    idempotency_key: IdempotencyKey | None = None
    reason: Reason | None = None
    chain_tx_hash: TxHash | None = None


Request = TransferRequest | PostRequest | VoidRequest
_REQUEST_TYPES: dict[str, type[Request]] = {
    "transfer": TransferRequest,
    "post": PostRequest,
    "void": VoidRequest,
}
_REQUEST_MODELS = tuple(_REQUEST_TYPES.values())


class Transfer(NamedTuple):
    """One immutable ledger entry. (A named tuple, not a pydantic model or a frozen dataclass:
    batches make thousands, and a named tuple is built several times faster.)"""

    id: int
    asset_id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    kind: str
    phase: str
    pending_id: int | None
    expires_at: datetime | None
    idempotency_key: str | None
    reason: str | None
    challenge_id: int | None
    chain_tx_hash: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Transfer:
        return cls(**{name: row[name] for name in cls._fields})


def parse_requests(items: list[Request | Mapping[str, Any]]) -> list[Request]:
    """A batch's requests, validated: the mappings of each action in one call. The error
    raised is the broken rule of the first bad item, named by its position."""
    parsed: list[Request | None] = list(items)
    pending: dict[str, tuple[list[int], list[Mapping[str, Any]]]] = {}
    for index, item in enumerate(items):
        if isinstance(item, _REQUEST_MODELS):
            continue
        if not isinstance(item, Mapping):
            raise InvalidInput(f"requests[{index}]", item, "must be a mapping or a request")
        action = item.get("action", "transfer")
        fields = {k: v for k, v in item.items() if k != "action"} if "action" in item else item
        if action not in _REQUEST_TYPES:
            raise InvalidInput(
                f"requests[{index}].action", action, "must be transfer, post or void"
            )
        positions, group = pending.setdefault(action, ([], []))
        positions.append(index)
        group.append(fields)
    errors: list[tuple[int, InvalidInput]] = []
    for action, (positions, group) in pending.items():
        try:
            models = validated_list(_REQUEST_TYPES[action], group)
        except InvalidInput as error:
            position, _, field = error.field.partition(".")
            index = positions[int(position)]
            name = f"requests[{index}]" + (f".{field}" if field else "")
            errors.append((index, InvalidInput(name, error.value, error.rule)))
            continue
        for index, model in zip(positions, models, strict=True):
            parsed[index] = model
    if errors:
        raise min(errors, key=lambda found: found[0])[1]
    return parsed  # type: ignore[return-value]
