"""Text and JSON at the API edge: what an identifier may hold, how large anything may be, and
how a refused value is shown. (Validation only: no database is involved.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaindb import InvalidInput
from chaindb.errors import shorten
from chaindb.text import (
    IDENTIFIER_RULE,
    METADATA_BYTES_MAX,
    json_rule,
    parse_identifier,
)
from chaindb.validation import validated

# A sample of what an identifier refuses: C0 and C1 controls, the bidirectional controls,
# invisible characters.
REFUSED_IN_IDENTIFIERS = [
    "\x00",
    "\t",
    "\n",
    "\r",
    "\x1b",
    "\x7f",
    "\x85",
    "\u00ad",
    "\u061c",
    "\u200b",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u2028",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\ufeff",
    "\U000e0041",
]


@pytest.mark.parametrize("char", REFUSED_IN_IDENTIFIERS)
def test_an_identifier_refuses_control_bidi_and_invisible_characters(char):
    from chaindb.core.users import NewUser

    with pytest.raises(InvalidInput) as error:
        validated(NewUser, user_id=f"ali{char}ce")
    assert (error.value.field, error.value.rule) == ("user_id", IDENTIFIER_RULE)
    with pytest.raises(InvalidInput, match="must not contain control characters"):
        parse_identifier(f"ali{char}ce", "user_id", 64)


@pytest.mark.parametrize(
    "value", ["alice", "Zoë", "用户42", "علي", "a b", "user@example.com", "🦊"]
)
def test_an_identifier_keeps_letters_of_any_script(value):
    from chaindb.core.users import NewUser

    assert validated(NewUser, user_id=value, username=value).user_id == value
    assert parse_identifier(value, "user_id", 64) == value


def test_a_lone_surrogate_is_refused_everywhere():
    from chaindb.core.settings import NewSetting

    for field in ("key", "value", "description"):
        values = {"key": "k", "value": "v", field: "a\ud800"}
        with pytest.raises(InvalidInput) as error:
            validated(NewSetting, **values)
        assert error.value.field == field
    with pytest.raises(InvalidInput):
        parse_identifier("a\ud800", "user_id", 64)


@given(st.text(max_size=40))
def test_the_python_and_pydantic_identifier_rules_agree(text):
    """Lookups check identifiers in Python, models in pydantic-core: the same rule."""
    from chaindb.core.users import NewUser

    try:
        validated(NewUser, user_id=text or "x")
        by_model = True
    except InvalidInput:
        by_model = False
    try:
        parse_identifier(text or "x", "user_id", 64)
        by_python = True
    except InvalidInput:
        by_python = False
    assert by_model == by_python


def test_json_is_bounded_by_its_serialized_size():
    rule = json_rule(METADATA_BYTES_MAX)
    padding = METADATA_BYTES_MAX - len('{"a":""}')
    assert rule({"a": "x" * padding}) == {"a": "x" * padding}
    with pytest.raises(ValueError, match=f"at most {METADATA_BYTES_MAX} bytes"):
        rule({"a": "x" * (padding + 1)})
    with pytest.raises(ValueError, match="bytes"):  # bytes, not characters
        rule({"a": "é" * (padding // 2 + 1)})


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ({"a": "x\x00"}, "NUL"),
        ({"a\x00": 1}, "NUL"),
        ({"a": ["ok", {"b": "\x00"}]}, "NUL"),
        ({"a": float("nan")}, "must be JSON"),
        ({"a": {1, 2}}, "must be JSON"),
        ({"a": "\udc80"}, "valid Unicode"),
    ],
)
def test_json_that_a_backend_cannot_store_is_refused(value, rule):
    with pytest.raises(ValueError, match=rule):
        json_rule(METADATA_BYTES_MAX)(value)


def test_json_with_a_backslash_u_written_out_is_kept():
    value = {"path": "C:\\u0000\\dir"}  # a backslash and letters, no NUL
    assert json_rule(METADATA_BYTES_MAX)(value) == value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("alice", "'alice'"),
        ("a\x00b", "'a\\x00b'"),
        ("a\u202eb", "'a\\u202eb'"),
        ("line\nbreak", "'line\\nbreak'"),
        (10**5000, "<an integer of 16610 bits>"),
    ],
    ids=["plain", "nul", "bidi", "newline", "huge-int"],
)
def test_a_refused_value_is_shown_escaped_on_one_line(value, shown):
    assert shorten(value) == shown


def test_a_huge_value_is_shown_cut_short():
    assert len(shorten("x" * 10_000_000)) == 40
