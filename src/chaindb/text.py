"""Text and JSON at the API edge: which characters an identifier may hold, and how long
(or how large) every text and JSON value may be.

Two kinds of text:
- an identifier (a user id, a username, a setting key, an idempotency key, an asset code...)
  is compared, indexed and shown in logs: it must not hold control characters (NUL, tab,
  newline...), bidirectional overrides or invisible characters, which make two different
  values look alike;
- free text (a description, a reason, an error message) may hold newlines and tabs, but never
  NUL, which PostgreSQL cannot store (SQLite would, so the two backends would disagree).

Both are pydantic-core patterns (checked natively, without calling back into Python: the
ledger's write path validates thousands of them). Neither lets a lone surrogate through:
pydantic-core refuses a string that is not valid Unicode. JSON is bounded by the size of its
serialized form, as it is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from chaindb.errors import InvalidInput

# Characters refused in identifiers, one class for both regex engines (Rust's, in
# pydantic-core, and Python's): C0 and C1 controls (NUL, tab, newline, DEL...), the soft
# hyphen, the Arabic letter mark, the Mongolian vowel separator, zero-width characters and
# the left-to-right/right-to-left marks, line and paragraph separators, the bidirectional
# embeddings, overrides and isolates, word joiners and invisible operators, the byte order
# mark, and the invisible tag characters.
_NOT_IN_IDENTIFIER = (
    r"\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    r"\U000e0000-\U000e007f"
)
# One character of an identifier, for pydantic-core's patterns (Rust's regex engine)...
IDENTIFIER_CHAR = rf"[^{_NOT_IN_IDENTIFIER}]"
# ... and for Python's, which also sees lone surrogates (Rust's strings cannot hold them).
IDENTIFIER_CHAR_PYTHON = rf"[^{_NOT_IN_IDENTIFIER}\ud800-\udfff]"
IDENTIFIER_PATTERN = rf"^{IDENTIFIER_CHAR}*$"
IDENTIFIER_CHARS = re.compile(rf"{IDENTIFIER_CHAR_PYTHON}*")
IDENTIFIER_RULE = (
    "must not contain control characters (NUL, tab, newline...), bidirectional overrides "
    "or invisible characters"
)
FREE_TEXT_PATTERN = r"^[^\x00]*$"
FREE_TEXT_RULE = "must not contain NUL (\\x00) characters"

# What a pattern's mismatch means, in words (validation.py words pydantic's errors with it).
PATTERN_RULES = {IDENTIFIER_PATTERN: IDENTIFIER_RULE, FREE_TEXT_PATTERN: FREE_TEXT_RULE}

# --- bounds (characters for text, bytes of UTF-8 JSON for JSON) -------------------------------

USER_ID_CHARS_MAX = 64  # users.id, VARCHAR(64)
USERNAME_CHARS_MAX = 64  # users.username, VARCHAR(64)
DESCRIPTION_CHARS_MAX = 10_000  # security events' and settings' descriptions
SETTING_VALUE_CHARS_MAX = 100_000
MESSAGE_CHARS_MAX = 10_000  # error messages, signed EIP-191 messages, signature subjects
REASON_CHARS_MAX = 1_000  # a ledger transfer's reason
METADATA_BYTES_MAX = 65_536  # a security event's metadata, serialized
TYPED_DATA_BYTES_MAX = 65_536  # EIP-712 typed data, serialized
ABI_BYTES_MAX = 1_048_576  # a contract's ABI (hashed, not stored), serialized
# Geth's transaction pool refuses a transaction larger than 128 KiB (txMaxSize).
RAW_TRANSACTION_BYTES_MAX = 131_072
RAW_TRANSACTION_CHARS_MAX = 2 + 2 * RAW_TRANSACTION_BYTES_MAX  # '0x' + two hex digits a byte


def identifier(chars_max: int, *, chars_min: int = 1) -> Any:
    """The pydantic type of an identifier of chars_min..chars_max characters."""
    return Annotated[
        str,
        StringConstraints(min_length=chars_min, max_length=chars_max, pattern=IDENTIFIER_PATTERN),
    ]


def free_text(chars_max: int, *, chars_min: int = 0) -> Any:
    """The pydantic type of free text of chars_min..chars_max characters."""
    return Annotated[
        str,
        StringConstraints(min_length=chars_min, max_length=chars_max, pattern=FREE_TEXT_PATTERN),
    ]


def spelled(pattern: str, rule: str, **constraints: int) -> Any:
    """The pydantic type of text matching `pattern` (pydantic-core checks it natively); an
    error says `rule`, in words, rather than the regular expression."""
    PATTERN_RULES[pattern] = rule
    return Annotated[str, StringConstraints(pattern=pattern, **constraints)]


def json_rule(bytes_max: int) -> Callable[[Any], Any]:
    """A JSON value's rule: serializable as JSON (no NaN, no cycles), no NUL in any string or
    key (PostgreSQL's jsonb refuses \\u0000), at most bytes_max bytes serialized."""

    def check(value: Any) -> Any:
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except RecursionError:
            raise ValueError("is nested too deeply to be stored as JSON") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"must be JSON (objects, arrays, strings, numbers): {error}") from None
        try:
            size_bytes = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode (it holds a lone surrogate)") from None
        if size_bytes > bytes_max:
            raise ValueError(f"must be at most {bytes_max} bytes as JSON (it is {size_bytes})")
        if "\\u0000" in text and _holds_nul(value):
            raise ValueError(f"must not contain NUL (\\x00) characters in {_kind(value)}")
        return value

    return check


def json_value(bytes_max: int) -> Any:
    """The pydantic type of a JSON object of at most bytes_max bytes serialized."""
    return Annotated[dict[str, Any], AfterValidator(json_rule(bytes_max))]


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


def _kind(value: Any) -> str:
    return "its keys or strings" if isinstance(value, dict | list | tuple) else "it"


def identifier_rule(value: object, chars_max: int) -> str:
    """An identifier checked outside a model (a lookup's argument): the same rule."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not 1 <= len(value) <= chars_max:
        raise ValueError(f"must be 1 to {chars_max} characters long")
    if IDENTIFIER_CHARS.fullmatch(value) is None:
        raise ValueError(IDENTIFIER_RULE)
    return value


def parse_identifier(value: object, field: str, chars_max: int) -> str:
    try:
        return identifier_rule(value, chars_max)
    except ValueError as error:
        raise InvalidInput(field, value, str(error)) from None


def parse_user_id(value: object, field: str = "user_id") -> str:
    """A user id given to a lookup: refused (not just not found) when no user could have it."""
    return parse_identifier(value, field, USER_ID_CHARS_MAX)


UserId = identifier(USER_ID_CHARS_MAX)
Description = free_text(DESCRIPTION_CHARS_MAX)
Message = free_text(MESSAGE_CHARS_MAX)
