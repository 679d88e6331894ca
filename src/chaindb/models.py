"""Insert and select models for every table of every module (seed 003's drizzle-zod).

Derived from the tables themselves, found through each module's face (`metadata`), so a module
that lands later is covered without a line here:

    from chaindb.models import models_for
    InsertToken, Token = models_for("tokens")
    InsertToken(name="SiTa", symbol="SITA", supply=2**200, creator_id="u1",
                network_id="ckb:testnet")

- Column types map to chaindb's types: amounts are exact ints up to 2**256 - 1 (never floats,
  never strings that JavaScript would round), addresses and hashes are checked and made
  canonical, CAIP-2 ids checked, datetimes timezone-aware UTC, JSON serializable and bounded,
  strings bounded by their VARCHAR and free of NUL, integers by their SQL width.
- Insert (drizzle-zod's createInsertSchema, SQLModel's Create): a generated id, a column with a
  default (Python or server) and a nullable column are optional; the rest required; unknown
  fields refused. Select (`$inferSelect`): every column, nullable ones may be None.
- Constraints become validation where they can be read: `col IN ('a', 'b')` is a Literal,
  `length(col) > 0` a minimum length. The rest (cross-column checks, foreign keys, uniqueness)
  stay the database's.
"""

from __future__ import annotations

import functools
import importlib
import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple

import sqlalchemy as sa
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    create_model,
)

from chaindb.errors import InvalidInput
from chaindb.migrations.modules import BUILTIN_MODULES
from chaindb.networks import AnyAddress, NetworkAddressType
from chaindb.text import FREE_TEXT_PATTERN, json_rule
from chaindb.types import (
    BIGINT_MAX,
    UINT256_DIGITS,
    UINT256_MAX,
    Address,
    AddressType,
    Amount,
    AmountType,
    ChainId,
    DecimalText,
    TxHash,
    TxHashType,
    UtcDateTime,
    UtcDatetime,
    display_address,
)

JSON_BYTES_MAX = 1_048_576  # a JSON column's value, serialized (the models' own bound)
SMALLINT_MAX = 2**15 - 1
_IN_LIST = re.compile(r"^\(?(\w+) IN \(((?:'[^']*'(?:, )?)+)\)\)?$")
_NOT_EMPTY = re.compile(r"^length\((\w+)\) > 0$")
JsonValue = Annotated[Any, AfterValidator(json_rule(JSON_BYTES_MAX))]
# Beyond drizzle-zod and SQLModel: an amount's JSON Schema says it is a uint256, and that it
# travels exact (a JSON integer read with a big-integer parser, or its digits as a string).
ExactAmount = Annotated[
    Amount,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": UINT256_MAX},
                {"type": "string", "pattern": f"^[0-9]{{1,{UINT256_DIGITS}}}$"},
            ],
            "description": "uint256 in base units, exact: never a float (JavaScript: BigInt)",
        }
    ),
]


class InsertBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelectBase(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class TableModels(NamedTuple):
    insert: type[InsertBase]
    select: type[SelectBase]


def all_tables() -> dict[str, sa.Table]:
    """Every table of every built-in module, by name, as each face's `metadata` holds it."""
    tables: dict[str, sa.Table] = {}
    for module in BUILTIN_MODULES:
        face = importlib.import_module(f"chaindb.{module}")
        tables.update(face.metadata.tables)
    return tables


@functools.cache
def models_for(table_name: str) -> TableModels:
    """The insert and select models of a table (named as the seed names its types:
    InsertToken, Token)."""
    table = all_tables().get(table_name)
    if table is None:
        known = ", ".join(sorted(all_tables()))
        raise InvalidInput("table", table_name, f"must be one of chaindb's tables: {known}")
    return TableModels(_model(table, insert=True), _model(table, insert=False))


def json_schema(table_name: str, kind: Literal["insert", "select"] = "insert") -> dict[str, Any]:
    """The JSON Schema of a table's insert (or select) model."""
    models = models_for(table_name)
    return (models.insert if kind == "insert" else models.select).model_json_schema()


def type_name(table_name: str) -> str:
    """'security_events' -> 'SecurityEvent', 'user_wallet_addresses' -> 'UserWalletAddress'."""
    words = table_name.split("_")
    last = words[-1]
    if last.endswith("sses"):
        last = last[:-2]
    elif last.endswith("ies"):
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return "".join(word.capitalize() for word in [*words[:-1], last])


def _model(table: sa.Table, *, insert: bool) -> Any:
    checks = _column_checks(table)
    fields: dict[str, Any] = {}
    for column in table.columns:
        python_type = checks.get(column.name) or _python_type(column)
        if column.nullable:
            python_type = python_type | None
        optional = column.nullable or (insert and _has_default(table, column))
        fields[column.name] = (python_type, None if optional else ...)
    name = type_name(table.name)
    return create_model(
        f"Insert{name}" if insert else name,
        __base__=InsertBase if insert else SelectBase,
        __doc__=f"A row of {table.name}, {'to insert' if insert else 'as read'}.",
        **fields,
    )


def _has_default(table: sa.Table, column: sa.Column[Any]) -> bool:
    generated_id = column is table.autoincrement_column
    return generated_id or column.default is not None or column.server_default is not None


def _column_checks(table: sa.Table) -> dict[str, Any]:
    """What the table's CHECK constraints say about single columns, as types."""
    found: dict[str, Any] = {}
    for constraint in table.constraints:
        if not isinstance(constraint, sa.CheckConstraint):
            continue
        text = " ".join(str(constraint.sqltext).split())
        if match := _IN_LIST.match(text):
            values = tuple(value.strip("'") for value in match[2].split(", "))
            found[match[1]] = Literal[values]  # type: ignore[valid-type]
        elif (match := _NOT_EMPTY.match(text)) and match[1] in table.c:
            length = getattr(table.c[match[1]].type, "length", None)
            found[match[1]] = Annotated[str, StringConstraints(min_length=1, max_length=length)]
    return found


def _python_type(column: sa.Column[Any]) -> Any:
    kind = column.type
    for sql_type, python_type in _DECORATED:
        if isinstance(kind, sql_type):
            return python_type
    if isinstance(kind, DecimalText):
        return Annotated[Decimal, Field(max_digits=kind.precision, decimal_places=kind.scale)]
    if _is_chain_id(column):
        return ChainId
    return _plain_type(kind)


_DECORATED: tuple[tuple[type, Any], ...] = (
    (AmountType, ExactAmount),
    # shown as chaindb shows them (EVM checksummed); the column stores the canonical form
    (NetworkAddressType, Annotated[AnyAddress, AfterValidator(display_address)]),
    (AddressType, Annotated[Address, AfterValidator(display_address)]),
    (TxHashType, TxHash),
    (UtcDateTime, UtcDatetime),
)


def _is_chain_id(column: sa.Column[Any]) -> bool:
    return any(
        isinstance(constraint, sa.CheckConstraint) and str(constraint.name).endswith("_caip2")
        for constraint in column.constraints
    )


def _plain_type(kind: sa.types.TypeEngine[Any]) -> Any:
    if isinstance(kind, sa.JSON):
        return JsonValue
    if isinstance(kind, sa.Boolean):
        return Annotated[bool, Field(strict=True)]
    if isinstance(kind, sa.SmallInteger):
        return Annotated[int, Field(strict=True, ge=-SMALLINT_MAX - 1, le=SMALLINT_MAX)]
    if isinstance(kind, sa.Integer):  # BigInteger and the row ids (INTEGER PRIMARY KEY on SQLite)
        return Annotated[int, Field(strict=True, ge=-BIGINT_MAX - 1, le=BIGINT_MAX)]
    if isinstance(kind, sa.Float):  # before Numeric, its parent: measurements, never money
        return Annotated[float, Field(allow_inf_nan=False)]
    if isinstance(kind, sa.Numeric):
        return Decimal
    if isinstance(kind, sa.Date):  # a calendar day (daily statistics), no time zone to keep
        return date
    if isinstance(kind, sa.LargeBinary):
        return Annotated[bytes, Field(max_length=kind.length)]
    if isinstance(kind, sa.String):  # Text too
        return Annotated[str, StringConstraints(max_length=kind.length, pattern=FREE_TEXT_PATTERN)]
    raise TypeError(f"no model type for {kind!r}: add it to chaindb.models")
