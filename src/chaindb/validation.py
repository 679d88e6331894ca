"""Validate input once at the API edge, with errors that name the field and the rule."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

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
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or model.__name__
        rule = first["msg"].removeprefix("Value error, ")
        raise InvalidInput(field, first.get("input"), rule) from None
