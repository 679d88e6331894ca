"""Validate input once at the API edge, with errors that name the field and the rule."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from chaindb.errors import InvalidInput

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


@functools.cache
def _list_adapter(model: type[M]) -> TypeAdapter[list[M]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _invalid(first: ErrorDetails, default_field: str) -> InvalidInput:
    field = ".".join(str(part) for part in first["loc"]) or default_field
    rule = first["msg"].removeprefix("Value error, ")
    return InvalidInput(field, first.get("input"), rule)
