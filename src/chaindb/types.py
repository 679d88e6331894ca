"""Exact, validated values: amounts, addresses, hashes, chain ids, UTC times.

A value is validated once at the edge (a parse_* function or the pydantic annotations below),
travels typed, and is stored by the SQLAlchemy types at the bottom of this file, which keep the
dialect differences in one place and back every rule with a CHECK constraint in the database.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import base58
import sqlalchemy as sa
from pydantic import BeforeValidator, Field
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from chaindb.errors import InvalidInput
from chaindb.text import UserId as UserId  # re-exported: modules take it from here
from chaindb.text import spelled

UINT256_MAX = 2**256 - 1
UINT256_DIGITS = 78  # len(str(2**256 - 1)): the width amounts are padded to on SQLite
BIGINT_MAX = 2**63 - 1  # a BIGINT column (row ids, block numbers, nonces) on both backends
# EIP-2294's bound on an EVM chain id, floor(MAX_UINT64 / 2) - 36 (so that EIP-155's
# v = chain_id * 2 + 36 fits 64 bits): a signed 64-bit BIGINT holds it on both backends.
EVM_CHAIN_ID_MAX = (2**64 - 1) // 2 - 36
EVM_NAMESPACE = "eip155"
CHAIN_ID_CHARS_MAX = 41  # CAIP-2: 8 (namespace) + 1 + 32 (reference)
SOLANA_ADDRESS_CHARS = (32, 44)  # base58 of 32 bytes
SOLANA_SIGNATURE_CHARS = (64, 88)  # base58 of 64 bytes
BASE58_CHARS = "1-9A-HJ-NP-Za-km-z"  # the alphabet as a regex/GLOB class: no 0, I, O, l

# Matched whole (fullmatch): `$` would also match before a final newline.
_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_EVM_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_BASE58 = re.compile(f"[{BASE58_CHARS}]+")
_CAIP2 = re.compile(r"([-a-z0-9]{3,8}):([-_a-zA-Z0-9]{1,32})")
_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")


# --- parsing: each rule is a ValueError whose text names the rule ----------------------------


def amount_rule(value: object) -> int:
    """An amount in base units: an int (or a string of digits) in 0..2**256-1."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be an integer in base units (not a float, bool or decimal)")
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise ValueError("must be a non-negative integer in base units")
        if len(value) > UINT256_DIGITS:
            raise ValueError(f"must be at most {UINT256_DIGITS} digits (uint256)")
        value = int(value)
    if value < 0:
        raise ValueError("must be >= 0")
    if value > UINT256_MAX:
        raise ValueError("must be <= 2**256 - 1 (uint256)")
    return value


def address_rule(value: object) -> str:
    """An EVM address (stored lowercase, EIP-55 enforced when mixed case) or a Solana address."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if _EVM_ADDRESS.fullmatch(value):
        body = value[2:]
        mixed_case = body != body.lower() and body != body.upper()
        if mixed_case and not _eth_utils().is_checksum_address(value):
            raise ValueError("mixed-case EVM address fails its EIP-55 checksum")
        return "0x" + body.lower()
    if value.startswith("0x"):
        raise ValueError("EVM address must be 0x followed by 40 hex digits")
    if _is_base58_of(value, 32, SOLANA_ADDRESS_CHARS):
        return value
    raise ValueError("must be an EVM address (0x + 40 hex) or a Solana address (base58, 32 bytes)")


def _eth_utils() -> Any:
    """eth_utils, imported on first use: it costs a command 0.13 s to start, and most never
    meet a mixed-case address."""
    import eth_utils

    return eth_utils


def tx_hash_rule(value: object) -> str:
    """An EVM transaction hash (0x + 64 hex, stored lowercase) or a Solana signature (64 bytes)."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if _EVM_TX_HASH.fullmatch(value):
        return value.lower()
    if value.startswith("0x"):
        raise ValueError("EVM transaction hash must be 0x followed by 64 hex digits")
    if _is_base58_of(value, 64, SOLANA_SIGNATURE_CHARS):
        return value
    raise ValueError("must be 0x + 64 hex (EVM) or a base58 signature of 64 bytes (Solana)")


def hash32_rule(value: object) -> str:
    """A 32-byte hash written 0x + 64 hex (message hashes, ABI hashes), stored lowercase."""
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise ValueError("must be 0x followed by 64 hex digits")
    return value.lower()


def _is_base58_of(value: str, size_bytes: int, chars: tuple[int, int]) -> bool:
    # The length first: decoding base58 takes time quadratic in it.
    return (
        chars[0] <= len(value) <= chars[1]
        and _BASE58.fullmatch(value) is not None
        and len(base58.b58decode(value)) == size_bytes
    )


def evm_chain_number_rule(value: object) -> int:
    """A numeric EVM chain id (EIP-155): an int from 1 to EVM_CHAIN_ID_MAX (EIP-2294)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("numeric EVM chain id must be an integer")
    if not 1 <= value <= EVM_CHAIN_ID_MAX:
        raise ValueError(
            f"numeric EVM chain id must be between 1 and {EVM_CHAIN_ID_MAX} (EIP-2294)"
        )
    return value


def chain_id_rule(value: object) -> str:
    """A CAIP-2 chain id (eip155:84532); a bare positive int (or ASCII digits) means an EVM
    chain. An eip155 reference is the chain's decimal id, written without leading zeros, so
    that one chain has one spelling."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{EVM_NAMESPACE}:{evm_chain_number_rule(value)}"
    if not isinstance(value, str):
        raise ValueError("must be a CAIP-2 chain id such as 'eip155:1'")
    if len(value) > CHAIN_ID_CHARS_MAX:
        raise ValueError(f"must be at most {CHAIN_ID_CHARS_MAX} characters (CAIP-2)")
    if value.isascii() and value.isdigit():
        return chain_id_rule(int(value))
    match = _CAIP2.fullmatch(value)
    if match is None:
        raise ValueError(
            "must be CAIP-2 'namespace:reference' such as 'eip155:84532' "
            "(namespace [-a-z0-9]{3,8}, reference [-_a-zA-Z0-9]{1,32})"
        )
    namespace, reference = match.groups()
    if namespace == EVM_NAMESPACE:
        if not reference.isdigit() or reference != str(int(reference)):
            raise ValueError("eip155 reference must be a decimal chain id without leading zeros")
        evm_chain_number_rule(int(reference))
    return value


def utc_rule(value: object) -> datetime:
    """A timezone-aware datetime, returned in UTC. Naive datetimes are ambiguous and refused."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 timestamp with a timezone") from None
    if not isinstance(value, datetime):
        raise ValueError("must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be timezone-aware (naive datetimes are ambiguous)")
    return value.astimezone(UTC)


def _parse(rule: Any, value: object, field: str) -> Any:
    try:
        return rule(value)
    except ValueError as error:
        raise InvalidInput(field, value, str(error)) from None


def parse_amount(value: object, field: str = "amount") -> int:
    return _parse(amount_rule, value, field)


def parse_address(value: object, field: str = "address") -> str:
    return _parse(address_rule, value, field)


def parse_tx_hash(value: object, field: str = "transaction_hash") -> str:
    return _parse(tx_hash_rule, value, field)


def parse_chain_id(value: object, field: str = "chain_id") -> str:
    return _parse(chain_id_rule, value, field)


def parse_utc(value: object, field: str = "timestamp") -> datetime:
    return _parse(utc_rule, value, field)


def display_address(canonical: str) -> str:
    """How an address is shown: EIP-55 checksummed for EVM, unchanged for Solana."""
    if len(canonical) == 42 and canonical.startswith("0x"):
        return _eth_utils().to_checksum_address(canonical)
    return canonical


def utc_now() -> datetime:
    return datetime.now(UTC)


# Annotated types for pydantic models at the API edge.
Amount = Annotated[int, BeforeValidator(amount_rule)]
Address = Annotated[str, BeforeValidator(address_rule)]
TxHash = Annotated[str, BeforeValidator(tx_hash_rule)]
Hash32 = Annotated[str, BeforeValidator(hash32_rule)]
ChainId = Annotated[str, BeforeValidator(chain_id_rule)]
UtcDatetime = Annotated[datetime, BeforeValidator(utc_rule)]
EvmChainNumber = Annotated[int, Field(strict=True, gt=0, le=EVM_CHAIN_ID_MAX)]
Slug = spelled(
    r"^[a-z][a-z0-9_]{0,63}$",
    "must be a lowercase letter, then lowercase letters, digits or _ (at most 64 characters)",
)
RowId = Annotated[int, Field(strict=True, gt=0, le=BIGINT_MAX)]
BlockNumber = Annotated[int, Field(strict=True, ge=0, le=BIGINT_MAX)]


# --- storage: SQLAlchemy types ---------------------------------------------------------------


class AmountType(sa.types.TypeDecorator[int]):
    """uint256 stored exactly: NUMERIC(78,0) on PostgreSQL, zero-padded 78-digit TEXT on SQLite.

    Zero padding makes SQLite's text order the numeric order, so indexes and ORDER BY work.
    """

    impl = sa.String(UINT256_DIGITS)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(UINT256_DIGITS, 0, asdecimal=True))
        return dialect.type_descriptor(sa.String(UINT256_DIGITS))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if type(value) is not int or not 0 <= value <= UINT256_MAX:
            value = amount_rule(value)
        if dialect.name == "postgresql":
            return Decimal(value)
        return str(value).zfill(UINT256_DIGITS)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if self.impl_instance.dialect_impl(dialect).bind_processor(dialect) is not None:
            return super().bind_processor(dialect)
        # The impl's own processing is none: one call per value, not TypeDecorator's two
        # (a batch binds thousands).
        return functools.partial(self.process_bind_param, dialect=dialect)

    def process_literal_param(self, value: int | None, dialect: Dialect) -> str:
        bound = self.process_bind_param(value, dialect)
        if bound is None:
            return "NULL"
        return str(bound) if dialect.name == "postgresql" else f"'{bound}'"

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class AmountSumType(sa.types.TypeDecorator[int]):
    """The result of summing amounts: exact, may exceed uint256, read back as int."""

    impl = sa.String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class amount_sum(FunctionElement[int]):  # noqa: N801 - reads as a SQL function
    """SUM over an amount column, exact on both backends (0 when there are no rows)."""

    type = AmountSumType()
    inherit_cache = True


@compiles(amount_sum)
def _amount_sum_default(element: amount_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"coalesce(sum({compiler.process(element.clauses, **kw)}), 0)"


@compiles(amount_sum, "sqlite")
def _amount_sum_sqlite(element: amount_sum, compiler: SQLCompiler, **kw: Any) -> str:
    # Python's sqlite3 never calls finalize when no row matched, so the empty sum is NULL.
    return f"coalesce(chaindb_uint_sum({compiler.process(element.clauses, **kw)}), '0')"


class UintSumAggregate:
    """SQLite aggregate summing padded-text amounts with Python ints (SQLite's SUM is a float)."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total += int(value)

    def finalize(self) -> str:
        return str(self.total)


class DecimalText(sa.types.TypeDecorator[Decimal]):
    """A fixed-point decimal: NUMERIC(p, s) on PostgreSQL, its exact text on SQLite."""

    impl = sa.String(40)
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(self.precision, self.scale, asdecimal=True))
        return dialect.type_descriptor(sa.String(self.precision + 2))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value).quantize(Decimal(1).scaleb(-self.scale))
        if len(exact.as_tuple().digits) > self.precision:
            raise ValueError(f"{value} does not fit NUMERIC({self.precision},{self.scale})")
        return exact if dialect.name == "postgresql" else str(exact)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out; SQLite keeps UTC without an offset."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if getattr(value, "tzinfo", None) is not UTC:
            value = utc_rule(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        process = super().bind_processor(dialect)
        if dialect.name != "sqlite" or process is None:
            return process
        # SQLite gets text, and formatting it costs more than writing a row; the rows of one
        # write share their timestamp, so recent values are converted once.
        return functools.lru_cache(maxsize=64)(process)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class AddressType(sa.types.TypeDecorator[str]):
    """An address in canonical form (EVM lowercase); read back EIP-55 checksummed."""

    impl = sa.String(64)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return value.lower() if value.startswith("0x") else value

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else display_address(value)


class TxHashType(sa.types.TypeDecorator[str]):
    """A transaction hash: EVM lowercase, Solana base58 as given."""

    impl = sa.String(100)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return value.lower() if value.startswith("0x") else value


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

# Row ids: 64-bit on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit (and the rowid).
IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# --- database checks: the same rule written once per dialect ---------------------------------


class DialectSQL(sa.sql.expression.ColumnElement[Any]):
    """A SQL fragment with one spelling for SQLite and one for PostgreSQL ({col} is the column)."""

    inherit_cache = False

    def __init__(self, column: str, sqlite: str, postgresql: str) -> None:
        self.column = column
        self.sqlite = sqlite
        self.postgresql = postgresql


@compiles(DialectSQL)
def _dialect_sql(element: DialectSQL, compiler: SQLCompiler, **kw: Any) -> str:
    template = element.sqlite if compiler.dialect.name == "sqlite" else element.postgresql
    return template.format(col=compiler.preparer.quote(element.column))


_SQLITE_DIGITS_ONLY = "{col} NOT GLOB '*[^0-9]*'"
_SQLITE_BASE58 = "{col} NOT GLOB '*[^" + BASE58_CHARS + "]*'"
_SQLITE_EVM_LOWER = (
    "(length({col}) = {n} AND substr({col}, 1, 2) = '0x'"
    " AND substr({col}, 3) NOT GLOB '*[^0-9a-f]*')"
)


def format_rule_postgresql(
    prefix: str, chars: str, shortest: int, longest: int, *, fast: bool
) -> str:
    """PostgreSQL's CHECK that `{col}` is `prefix` then `shortest`..`longest` characters of the
    class `chars`.

    fast=True spells it as a length and an unbounded class: a bounded repeat (`{32,44}`) costs
    PostgreSQL's regex engine 3-6 us a value, on every insert and update of the row, this
    spelling about 0.5 (measured); schema.py and every migration from 2026-12-02 on use it.
    fast=False is the bounded repeat the migrations before built: kept for them, since what a
    migration builds must never change (baseline compares a database with it); the
    *_fast_format_checks migrations respell it (migrations/format_checks.py)."""
    if not fast:
        repeat = str(shortest) if shortest == longest else f"{shortest},{longest}"
        return f"{{col}} ~ '^{prefix}[{chars}]{{{{{repeat}}}}}$'"
    low, high = len(prefix) + shortest, len(prefix) + longest
    length = (
        f"length({{col}}) = {low}" if low == high else f"length({{col}}) BETWEEN {low} AND {high}"
    )
    return f"({length} AND {{col}} ~ '^{prefix}[{chars}]*$')"


def amount_check(column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        DialectSQL(
            column,
            # typeof() is 'null' for NULL, so NULL must be let through explicitly.
            sqlite=f"{{col}} IS NULL OR (typeof({{col}}) = 'text' AND "
            f"length({{col}}) = {UINT256_DIGITS} AND " + _SQLITE_DIGITS_ONLY + ")",
            postgresql=f"{{col}} >= 0 AND {{col}} <= {UINT256_MAX}",
        ),
        name=f"{column}_uint256",
    )


def address_check(column: str, *, fast: bool = False) -> sa.CheckConstraint:
    return _hex_or_base58_check(
        column, hex_digits=40, base58_lengths=(32, 44), kind="address", fast=fast
    )


def tx_hash_check(column: str, *, fast: bool = False) -> sa.CheckConstraint:
    return _hex_or_base58_check(
        column, hex_digits=64, base58_lengths=(64, 88), kind="tx_hash", fast=fast
    )


def _hex_or_base58_check(
    column: str, *, hex_digits: int, base58_lengths: tuple[int, int], kind: str, fast: bool
) -> sa.CheckConstraint:
    """EVM's lower-case 0x hex of `hex_digits`, or Solana's base58 of a length in the range."""
    shortest, longest = base58_lengths
    return sa.CheckConstraint(
        DialectSQL(
            column,
            sqlite=_SQLITE_EVM_LOWER.replace("{n}", str(hex_digits + 2))
            + f" OR (length({{col}}) BETWEEN {shortest} AND {longest} AND "
            + _SQLITE_BASE58
            + ")",
            postgresql=format_rule_postgresql("0x", "0-9a-f", hex_digits, hex_digits, fast=fast)
            + " OR "
            + format_rule_postgresql("", BASE58_CHARS, shortest, longest, fast=fast),
        ),
        name=f"{column}_{kind}",
    )


def hash32_check(column: str, *, fast: bool = False) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        DialectSQL(
            column,
            sqlite=_SQLITE_EVM_LOWER.replace("{n}", "66"),
            postgresql=format_rule_postgresql("0x", "0-9a-f", 64, 64, fast=fast),
        ),
        name=f"{column}_hash32",
    )


def chain_id_check(column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        DialectSQL(
            column,
            sqlite="instr({col}, ':') BETWEEN 4 AND 9"
            " AND substr({col}, 1, instr({col}, ':') - 1) NOT GLOB '*[^a-z0-9-]*'"
            " AND length(substr({col}, instr({col}, ':') + 1)) BETWEEN 1 AND 32"
            " AND substr({col}, instr({col}, ':') + 1) NOT GLOB '*[^a-zA-Z0-9_-]*'",
            postgresql="{col} ~ '^[-a-z0-9]{{3,8}}:[-_a-zA-Z0-9]{{1,32}}$'",
        ),
        name=f"{column}_caip2",
    )


def amount_zero() -> DialectSQL:
    """Server default 0 for an amount column, in each dialect's storage form."""
    return DialectSQL("", sqlite="'" + "0" * UINT256_DIGITS + "'", postgresql="0")


# --- Solana and Arweave values (the assets module's; solders parses the Solana ones) ----------

ARWEAVE_TX_ID_CHARS = 43  # unpadded base64url of 32 bytes (SHA-256 of the signature)
_ARWEAVE_TX_ID = re.compile(r"[A-Za-z0-9_-]{43}")


def solana_address_rule(value: object) -> str:
    """A Solana address (a public key or a PDA): base58 of exactly 32 bytes, as solders
    writes it."""
    from solders.pubkey import Pubkey

    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not SOLANA_ADDRESS_CHARS[0] <= len(value) <= SOLANA_ADDRESS_CHARS[1]:
        raise ValueError("must be a Solana address: base58 of 32 bytes (32 to 44 characters)")
    try:
        key = Pubkey.from_string(value)
    except ValueError:
        raise ValueError("must be a Solana address: base58 of 32 bytes") from None
    if str(key) != value:
        raise ValueError("must be a Solana address in its canonical base58 form")
    return value


def solana_signature_rule(value: object) -> str:
    """A Solana transaction signature: base58 of exactly 64 bytes (its transaction id)."""
    from solders.signature import Signature

    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not SOLANA_SIGNATURE_CHARS[0] <= len(value) <= SOLANA_SIGNATURE_CHARS[1]:
        raise ValueError("must be a Solana signature: base58 of 64 bytes (64 to 88 characters)")
    try:
        signature = Signature.from_string(value)
    except ValueError:
        raise ValueError("must be a Solana signature: base58 of 64 bytes") from None
    if str(signature) != value:
        raise ValueError("must be a Solana signature in its canonical base58 form")
    return value


def arweave_tx_id_rule(value: object) -> str:
    """An Arweave transaction id: 43 characters of unpadded base64url encoding 32 bytes."""
    if not isinstance(value, str) or not _ARWEAVE_TX_ID.fullmatch(value):
        raise ValueError("must be an Arweave transaction id: 43 characters of base64url")
    # 43 characters carry 258 bits: the last character's two spare bits must be zero, so that
    # one id has one spelling.
    decoded = base64.urlsafe_b64decode(value + "=")
    if base64.urlsafe_b64encode(decoded).decode().rstrip("=") != value:
        raise ValueError("must be an Arweave transaction id in its canonical base64url form")
    return value


def parse_solana_address(value: object, field: str = "address") -> str:
    return _parse(solana_address_rule, value, field)


def parse_solana_signature(value: object, field: str = "signature") -> str:
    return _parse(solana_signature_rule, value, field)


def parse_arweave_tx_id(value: object, field: str = "arweave_tx_id") -> str:
    return _parse(arweave_tx_id_rule, value, field)


SolanaAddress = Annotated[str, BeforeValidator(solana_address_rule)]
SolanaSignature = Annotated[str, BeforeValidator(solana_signature_rule)]
ArweaveTxId = Annotated[str, BeforeValidator(arweave_tx_id_rule)]
Lamports = Amount  # 1 SOL = 10**9 lamports; exact, up to 2**256 - 1 like every amount
Winston = Amount  # 1 AR = 10**12 winston


def solana_address_check(column: str, *, fast: bool = False) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        DialectSQL(
            column,
            sqlite="length({col}) BETWEEN 32 AND 44 AND " + _SQLITE_BASE58,
            postgresql=format_rule_postgresql("", BASE58_CHARS, 32, 44, fast=fast),
        ),
        name=f"{column}_solana",
    )


def solana_signature_check(column: str, *, fast: bool = False) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        DialectSQL(
            column,
            sqlite="length({col}) BETWEEN 64 AND 88 AND " + _SQLITE_BASE58,
            postgresql=format_rule_postgresql("", BASE58_CHARS, 64, 88, fast=fast),
        ),
        name=f"{column}_solana_sig",
    )


def arweave_tx_id_check(column: str, *, fast: bool = False) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        DialectSQL(
            column,
            sqlite="length({col}) = 43 AND {col} NOT GLOB '*[^A-Za-z0-9_-]*'",
            postgresql=format_rule_postgresql("", "A-Za-z0-9_-", 43, 43, fast=fast),
        ),
        name=f"{column}_arweave",
    )
