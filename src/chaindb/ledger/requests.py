"""What a ledger write asks for (transfer, post, void) and what it returns (Transfer)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, NamedTuple, Required, get_args

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    with_config,
)
from typing_extensions import TypedDict  # pydantic needs it before Python 3.12

from chaindb.errors import ChaindbError, InvalidInput
from chaindb.ledger.accounts import ASSET_CODE_CHARS_MAX, AccountKey, key_from_text
from chaindb.ledger.schema import IDEMPOTENCY_KEY_LENGTH, Kind
from chaindb.text import IDENTIFIER_CHAR, REASON_CHARS_MAX, USER_ID_CHARS_MAX, free_text, identifier
from chaindb.types import UINT256_MAX, RowId, TxHash, UtcDatetime, amount_rule
from chaindb.validation import Input, validated_list

PositiveAmount = Annotated[int, BeforeValidator(amount_rule), Field(gt=0)]
IdempotencyKey = identifier(IDEMPOTENCY_KEY_LENGTH)
Reason = free_text(REASON_CHARS_MAX)
AssetCode = identifier(ASSET_CODE_CHARS_MAX)


def _account_rule(value: object) -> AccountKey:
    try:
        return AccountKey.parse(value)
    except InvalidInput as error:
        raise ValueError(error.rule) from None


# PlainValidator: the rule alone decides (pydantic would otherwise re-check the named tuple).
AccountRef = Annotated[AccountKey, PlainValidator(_account_rule)]
# The spellings AccountKey.parse accepts, for pydantic-core (whose $ is the end of the text).
_ACCOUNT_SPELLING = (
    rf"^(user:{IDENTIFIER_CHAR}{{1,{USER_ID_CHARS_MAX}}}|system:[a-z][a-z0-9_]{{0,63}})$"
)


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
    asset: AssetCode = "points"
    pending: bool = False
    expires_at: UtcDatetime | None = None
    idempotency_key: IdempotencyKey | None = None
    reason: Reason | None = None
    challenge_id: RowId | None = None
    chain_tx_hash: TxHash | None = None

    # The rules between fields, as validators of the later field (so the error names it).
    @field_validator("credit")
    @classmethod
    def _credit_is_not_the_debit(cls, credit: AccountKey, info: ValidationInfo) -> AccountKey:
        if credit == info.data.get("debit"):
            raise ValueError("must differ from debit")
        return credit

    @field_validator("expires_at")
    @classmethod
    def _only_a_hold_expires(cls, expires_at: datetime | None, info: ValidationInfo) -> Any:
        if expires_at is not None and not info.data.get("pending"):
            raise ValueError("only a pending transfer expires")
        return expires_at


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


class TransferItem(NamedTuple):
    """A validated transfer request, as the write path takes it. (A named tuple: a batch holds
    thousands. One is cheap to build and, holding plain values only, is soon left alone by
    Python's garbage collector, where a batch of pydantic models brought on a full collection
    every few batches.)"""

    debit: AccountKey
    credit: AccountKey
    amount: int
    kind: str
    asset: str = "points"
    pending: bool = False
    expires_at: datetime | None = None
    idempotency_key: str | None = None
    reason: str | None = None
    challenge_id: int | None = None
    chain_tx_hash: str | None = None

    @classmethod
    def of(cls, request: TransferRequest) -> TransferItem:
        return cls(**request.__dict__)


@with_config(ConfigDict(extra="forbid"))
class _TransferFields(TypedDict, total=False):
    """TransferRequest's fields as pydantic-core checks them on its own, without calling back
    into Python: what a batch of mappings is validated with. It accepts a subset of what
    TransferRequest accepts, and the same values; whatever it refuses is validated again by
    TransferRequest (which also words the error)."""

    debit: Required[Annotated[str, Strict(), StringConstraints(pattern=_ACCOUNT_SPELLING)]]
    credit: Required[Annotated[str, Strict(), StringConstraints(pattern=_ACCOUNT_SPELLING)]]
    amount: Required[Annotated[int, Strict(), Field(gt=0, le=UINT256_MAX)]]
    kind: Required[Kind]
    asset: AssetCode
    pending: bool
    expires_at: UtcDatetime | None
    idempotency_key: IdempotencyKey | None
    reason: Reason | None
    challenge_id: RowId | None
    chain_tx_hash: TxHash | None


_TRANSFER_FIELDS = TypeAdapter(list[_TransferFields])

Request = TransferRequest | PostRequest | VoidRequest
Item = TransferItem | PostRequest | VoidRequest  # what the write path applies
_REQUEST_TYPES: dict[str, type[Request]] = {
    "transfer": TransferRequest,
    "post": PostRequest,
    "void": VoidRequest,
}
_REQUEST_MODELS = tuple(_REQUEST_TYPES.values())


def as_item(request: Request | TransferItem) -> Item:
    if isinstance(request, TransferItem):  # first: cheaper than against a model (an ABC)
        return request
    return TransferItem.of(request) if isinstance(request, TransferRequest) else request


class _BreaksARule(Exception):
    """An item pydantic-core accepted breaks a rule between its fields: TransferRequest
    words the error."""


def transfer_items(fields: list[Mapping[str, Any]]) -> list[TransferItem]:
    """Transfer requests given as mappings, validated in one call into pydantic-core."""
    try:
        checked = _TRANSFER_FIELDS.validate_python(fields)
        return [_transfer_item(item) for item in checked]
    except (ValidationError, _BreaksARule):
        return [TransferItem.of(model) for model in validated_list(TransferRequest, fields)]


def _transfer_item(fields: dict[str, Any]) -> TransferItem:
    # The patterns have matched: both spellings parse. (Taken out, not replaced: a dict of
    # plain values is one the garbage collector does not track.)
    debit, credit = fields.pop("debit"), fields.pop("credit")
    if debit == credit:  # one spelling per account: equal texts, the same account
        raise _BreaksARule
    debit, credit = key_from_text(debit), key_from_text(credit)
    if len(fields) == 2:  # amount and kind alone, the common case: the rest are the defaults
        return _item_of_values((debit, credit, fields["amount"], fields["kind"], *_DEFAULTS))
    if fields.get("expires_at") is not None and not fields.get("pending"):
        raise _BreaksARule
    return TransferItem(debit, credit, **fields)


_item_of_values = functools.partial(tuple.__new__, TransferItem)
_DEFAULTS = tuple(TransferItem._field_defaults.values())  # asset ... chain_tx_hash, in order
_KINDS = frozenset(get_args(Kind))


def plain_transfer_item(
    debit: object, credit: object, amount: object, kind: object
) -> TransferItem | None:
    """The item TransferRequest would make of a transfer given its accounts (as text), amount
    and kind alone, all plainly valid: the common call, without building a model (its
    validation was a tenth of a transfer's CPU). None when TransferRequest must judge: it
    also words the error."""
    if type(debit) is not str or type(credit) is not str or debit == credit:
        return None  # (one spelling per account: equal texts, the same account)
    if type(amount) is not int or not 0 < amount <= UINT256_MAX:
        return None
    if type(kind) is not str or kind not in _KINDS:
        return None
    debit_key, credit_key = key_from_text(debit), key_from_text(credit)
    if debit_key is None or credit_key is None:
        return None
    return _item_of_values((debit_key, credit_key, amount, kind, *_DEFAULTS))


class RowsWithHold(NamedTuple):
    """A caller's rows, written by the same statement as a hold's own row (ledger.hold_with):
    PostgreSQL WITH items (`name AS (INSERT ...), ...`, data-modifying), whose SQL may use
    `:hold_id`, the new hold's transfer id. `binds`: the SQL's typed parameters, `params`
    their values."""

    ctes: str
    binds: tuple[Any, ...]  # sqlalchemy BindParameters
    params: Mapping[str, Any]


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
        return tuple.__new__(cls, _TRANSFER_FIELDS_OF(row))  # _make, less its length check


_TRANSFER_FIELDS_OF = operator.itemgetter(*Transfer._fields)


def parse_requests(items: list[Request | Mapping[str, Any]]) -> list[Request | TransferItem]:
    """A batch's requests, validated: the mappings of each action in one call (a transfer's
    comes back a TransferItem; a request given as a model, as it was). The error raised is the
    broken rule of the first bad item, named by its position."""
    parsed: list[Any] = list(items)
    pending: dict[str, tuple[list[int], list[Mapping[str, Any]]]] = {}
    for index, item in enumerate(items):
        # dict first: isinstance against Mapping or the models (ABCs both) costs more per item.
        if not isinstance(item, dict):
            if isinstance(item, _REQUEST_MODELS):
                continue  # validated when it was built; run() makes it an item
            if not isinstance(item, Mapping):
                raise InvalidInput(f"requests[{index}]", item, "must be a mapping or a request")
        action, fields = _action_and_fields(item)
        if not isinstance(action, str) or action not in _REQUEST_TYPES:
            raise InvalidInput(
                f"requests[{index}].action", action, "must be transfer, post or void"
            )
        if action not in pending:
            pending[action] = ([], [])
        positions, group = pending[action]
        positions.append(index)
        group.append(fields)
    errors: list[tuple[int, InvalidInput]] = []
    for action, (positions, group) in pending.items():
        try:
            if action == "transfer":
                models: list[Any] = transfer_items(group)
            else:
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
    return parsed


def _action_and_fields(item: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any]]:
    if "action" not in item:
        return "transfer", item
    return item["action"], {k: v for k, v in item.items() if k != "action"}
