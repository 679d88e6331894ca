"""Validate input once at the API edge, with errors that name the field and the rule."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from chaindb.errors import InvalidInput
from chaindb.text import PATTERN_RULES

M = TypeVar("M", bound=BaseModel)


class Input(BaseModel):
    """Base of the insert schemas: unknown fields are errors, values are never coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Row(BaseModel):
    """Base of what operations return: a typed, read-only copy of a row."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


def validated(model: type[M], **values: Any) -> M:
    """`model(**values)`, raising InvalidInput for the first broken rule."""
    try:
        return model(**values)
    except ValidationError as error:
        raise _invalid(error.errors()[0], model.__name__) from None


def validated_list(model: type[M], items: list[Mapping[str, Any]]) -> list[M]:
    """Many `model(**item)` in one call into pydantic (a call per item costs more than the
    validation itself). The InvalidInput's field starts with the item's position: '3.amount'."""
    try:
        return _list_adapter(model).validate_python(items)
    except ValidationError as error:
        raise _invalid(error.errors()[0], model.__name__) from None


def rows_as(model: type[M], rows: Iterable[Any]) -> list[M]:
    """Rows read from the database (SQLAlchemy Rows) as `model`s, by one call into pydantic
    over plain dicts: a row validated by its attributes (from_attributes) costs about three
    times as much, which a hot path such as the minting queue's claim feels."""
    return _list_adapter(model).validate_python([dict(row._mapping) for row in rows])


@functools.cache
def _list_adapter(model: type[M]) -> TypeAdapter[list[M]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _invalid(first: ErrorDetails, default_field: str) -> InvalidInput:
    field = ".".join(str(part) for part in first["loc"]) or default_field
    rule = first["msg"].removeprefix("Value error, ")
    if first["type"] == "string_pattern_mismatch":
        # Said in words, not as the regular expression (which is unreadable for these).
        rule = PATTERN_RULES.get(first.get("ctx", {}).get("pattern"), rule)
    return InvalidInput(field, first.get("input"), rule)


def parse_limit(value: object, limit_max: int, field: str = "limit") -> int:
    """A count of rows to return: an int from 1 to limit_max (not a bool, not text)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, value, f"must be an integer between 1 and {limit_max}")
    if not 1 <= value <= limit_max:
        raise InvalidInput(field, value, f"must be between 1 and {limit_max}")
    return value
