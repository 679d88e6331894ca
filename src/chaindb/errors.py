"""One hierarchy of errors, each with a message a user can act on."""

from __future__ import annotations

from collections.abc import Iterable

VALUE_SHOWN_CHARS_MAX = 40


def shorten(value: object) -> str:
    """The value as a user would type it, cut to a readable length."""
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    if len(text) <= VALUE_SHOWN_CHARS_MAX:
        return text
    return text[: VALUE_SHOWN_CHARS_MAX - 3] + "..."


class ChaindbError(Exception):
    """Base of every error chaindb raises on purpose."""


class ConfigError(ChaindbError):
    """The configuration (URL, environment) cannot be used."""


class ConnectionFailed(ChaindbError):
    """The database could not be reached."""


class DatabaseMissing(ConfigError):
    """The database is not there, and the command does not create one (only `migrate` does)."""


class InvalidInput(ChaindbError, ValueError):
    """A value broke a rule. Names the field, the value (shortened) and the rule."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}: {shorten(value)} is invalid: {rule}")


class NotFound(ChaindbError, LookupError):
    """The row asked for does not exist."""


class Conflict(ChaindbError):
    """The write would break a uniqueness or state rule."""


class MigrationError(ChaindbError):
    """A migration could not be planned or applied."""


class MigrationLockTimeout(MigrationError):
    """Another process held the migration lock for too long."""


class DestructiveMigration(MigrationError):
    """Lint marked a pending migration destructive and data loss was not allowed."""

    def __init__(self, findings: Iterable[object]) -> None:
        self.findings = list(findings)
        lines = "\n".join(f"  {finding}" for finding in self.findings)
        super().__init__(
            "refusing to apply destructive migrations (pass --allow-data-loss to apply):\n" + lines
        )


class ConfirmationRequired(ChaindbError):
    """A dangerous command needs --force or an answer at a terminal."""
