"""One hierarchy of errors, each with a message a user can act on."""

from __future__ import annotations

from collections.abc import Iterable

VALUE_SHOWN_CHARS_MAX = 40
_INT_SHOWN_BITS_MAX = 4_096


def shorten(value: object) -> str:
    """The value as a user would type it, cut to a readable length."""
    # Quoted as typed when printable; escaped otherwise, so that a control character or a
    # bidirectional override in a value never reaches a terminal or a log line raw.
    if isinstance(value, str):
        value = value[:VALUE_SHOWN_CHARS_MAX]  # a value may be megabytes long
        text = f"'{value}'" if value.isprintable() else repr(value)
    elif isinstance(value, int) and value.bit_length() > _INT_SHOWN_BITS_MAX:
        text = f"<an integer of {value.bit_length()} bits>"  # repr() refuses 4,300+ digits
    else:
        text = repr(value)
    if len(text) <= VALUE_SHOWN_CHARS_MAX:
        return text
    return text[: VALUE_SHOWN_CHARS_MAX - 3] + "..."


class ChaindbError(Exception):
    """Base of every error chaindb raises on purpose."""


class ConfigError(ChaindbError):
    """The configuration (URL, environment) cannot be used."""


class ConnectionFailed(ChaindbError):
    """The database could not be reached."""


class ConnectionLost(ConnectionFailed):
    """The connection was lost in a transaction, before its commit: nothing was written, and
    the whole transaction may run again."""


class EncryptionKeyError(ConnectionFailed):
    """The SQLite file cannot be read with the key given: it is encrypted and no key or a wrong
    one was set (CHAINDB_SQLITE_KEY), or a key was set for a file that is not encrypted."""


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
    """Lint marked a migration to apply (or a downgrade to run, on rows) destructive and data
    loss was not allowed."""

    def __init__(self, findings: Iterable[object], *, verb: str = "apply") -> None:
        self.findings = list(findings)
        lines = "\n".join(f"  {finding}" for finding in self.findings)
        super().__init__(
            f"refusing to {verb} destructive migrations (pass --allow-data-loss to {verb}):\n"
            + lines
        )


class DataLossRefused(MigrationError):
    """push found changes that lose data and data loss was not accepted, or changes that cannot
    run without losing or changing rows whatever is accepted (`blocked`)."""

    def __init__(self, changes: Iterable[object], *, blocked: bool) -> None:
        self.changes = list(changes)
        self.blocked = blocked
        lines = "\n".join(f"  {change}" for change in self.changes)
        why = (
            "these changes cannot run without losing or changing rows, even with --accept-data-loss"
            if blocked
            else "these changes lose data (pass --accept-data-loss to apply them)"
        )
        super().__init__(f"refusing to push, nothing was changed: {why}:\n{lines}")


class ConfirmationRequired(ChaindbError):
    """A dangerous command needs --force or an answer at a terminal."""
