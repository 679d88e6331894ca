"""Option and argument types whose refusals read like every other chaindb error.

click words a bad value as a usage error (several lines, exit 2). These raise InvalidInput
instead, which `chaindb` prints as one line naming the option and the rule, exit 1 — the same
line a Python caller gets from the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from chaindb.errors import InvalidInput
from chaindb.types import parse_amount


def _name(param: click.Parameter | None) -> str:
    if param is None:
        return "value"
    if isinstance(param, click.Option):
        return max(param.opts, key=len)  # '--amount'
    return param.human_readable_name  # 'HOLD_ID'


class AmountParam(click.ParamType):
    """An amount in base units, exact: digits only, 0 to 2**256 - 1 ('1e18', '1.5', '-5' and
    '0x10' are refused, never rounded)."""

    name = "amount"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        return parse_amount(value, _name(param))


class IdParam(click.ParamType):
    """A whole number > 0 (a row id, a count)."""

    name = "id"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0:
            return int(value)
        raise InvalidInput(_name(param), value, "must be a whole number > 0")


class ChoiceParam(click.Choice):
    """One of `choices`, listed in --help (as click.Choice), refused in one line."""

    def __init__(self, choices: Sequence[str]) -> None:
        super().__init__(list(choices))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value in self.choices:
            return value
        raise InvalidInput(_name(param), value, f"must be one of {', '.join(self.choices)}")
