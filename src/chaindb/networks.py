"""Which address a network takes: the address families of CKB and Bitcoin beside EVM and Solana.

RGB++ tokens live on both CKB and Bitcoin, so a wallet there is a CKB address (RFC 0021: bech32m
full format, or the deprecated bech32 short and full formats) or a Bitcoin address (BIP-173/350
segwit in bech32/bech32m, or a legacy Base58Check P2PKH/P2SH). Checksums come from the `bech32m`
package (BIP-173/350's reference code) and `base58`; RFC 0021 drops BIP-173's 90-character
limit, which CKB's full addresses exceed, so only the split of a CKB address is written here.

Networks are CAIP-2 ids: `bip122:<genesis hash prefix>` for Bitcoin (CAIP's namespace). CKB has
no registered CAIP-2 namespace; chaindb names its networks `ckb:mainnet` and `ckb:testnet` (the
seed's "mainnet/testnet"). Every other namespace takes what `types.address_rule` takes.
"""

from __future__ import annotations

from typing import Annotated

import base58
import sqlalchemy as sa
from bech32m import codecs as bech32
from pydantic import BeforeValidator

from chaindb.errors import InvalidInput
from chaindb.types import (
    BASE58_CHARS,
    AddressType,
    DialectSQL,
    address_rule,
    chain_id_rule,
    format_rule_postgresql,
)

CKB_MAINNET = "ckb:mainnet"
CKB_TESTNET = "ckb:testnet"
CKB_HRPS = {CKB_MAINNET: "ckb", CKB_TESTNET: "ckt"}
BITCOIN_MAINNET = "bip122:000000000019d6689c085ae165831e93"
BITCOIN_TESTNET = "bip122:000000000933ea01ad0ee984209779ba"
BITCOIN_TESTNET4 = "bip122:00000000da84f2bafbbc53dee25a72ae"
BITCOIN_SIGNET = "bip122:00000008819873e925422c1ff0f99f7c"
BITCOIN_REGTEST = "bip122:0f9188f13cb7b2c71f2a335e3a4fc328"
# network -> (segwit HRP, Base58Check version bytes of P2PKH and P2SH)
BITCOIN_PARAMS = {
    BITCOIN_MAINNET: ("bc", (0x00, 0x05)),
    BITCOIN_TESTNET: ("tb", (0x6F, 0xC4)),
    BITCOIN_TESTNET4: ("tb", (0x6F, 0xC4)),
    BITCOIN_SIGNET: ("tb", (0x6F, 0xC4)),
    BITCOIN_REGTEST: ("bcrt", (0x6F, 0xC4)),
}
# What a network's address may be at most: a CKB full address grows with its lock's args
# (20 bytes for a plain key: 97 characters; 200 leave room for ~80 bytes of args).
NETWORK_ADDRESS_CHARS_MAX = 200
LEGACY_BITCOIN_CHARS = (26, 35)
_CKB_HASH_TYPES = {0, 1, 2, 4}  # data, type, data1, data2
_CKB_SHORT_CODE_HASH_INDEXES = {0, 1, 2}  # secp256k1-blake160, multisig, anyone-can-pay


def namespace_of(network_id: str) -> str:
    return network_id.partition(":")[0]


def network_address_rule(value: object, network_id: str) -> str:
    """The address in its canonical form, if it is one the network takes (ValueError if not).
    `network_id` is a CAIP-2 id, already valid."""
    namespace = namespace_of(network_id)
    if namespace == "ckb":
        if network_id not in CKB_HRPS:
            raise ValueError(f"CKB networks are {', '.join(CKB_HRPS)}")
        return ckb_address_rule(value, CKB_HRPS[network_id])
    if namespace == "bip122":
        if network_id not in BITCOIN_PARAMS:
            raise ValueError(
                "unknown Bitcoin network (mainnet, testnet3, testnet4, signet, regtest)"
            )
        return bitcoin_address_rule(value, *BITCOIN_PARAMS[network_id])
    return address_rule(value)


def parse_network_address(value: object, network_id: object, field: str = "address") -> str:
    """The address checked against its network's family, or InvalidInput naming `field`."""
    try:
        network = chain_id_rule(network_id)
    except ValueError as error:
        raise InvalidInput("network_id", network_id, str(error)) from None
    try:
        return network_address_rule(value, network)
    except ValueError as error:
        raise InvalidInput(field, value, f"{error} (network {network})") from None


def any_address_rule(value: object) -> str:
    """An address of any family chaindb knows, told apart by its shape (for a column that is
    not tied to one network, such as a security event's wallet)."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    lowered = value.lower()
    for network, hrp in CKB_HRPS.items():
        if lowered.startswith(hrp + "1"):
            return network_address_rule(value, network)
    for network, (hrp, _versions) in BITCOIN_PARAMS.items():
        if lowered.startswith(hrp + "1"):
            return network_address_rule(value, network)
    try:
        return address_rule(value)
    except ValueError:
        if LEGACY_BITCOIN_CHARS[0] <= len(value) <= LEGACY_BITCOIN_CHARS[1]:
            return _legacy_bitcoin_any(value)
        raise ValueError(
            "must be an EVM, Solana, CKB (ckb1…/ckt1…) or Bitcoin (bc1…, 1…, 3…) address"
        ) from None


def ckb_address_rule(value: object, hrp: str) -> str:
    """A CKB address of the network whose prefix is `hrp`, lowercase."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > NETWORK_ADDRESS_CHARS_MAX:
        raise ValueError(f"must be at most {NETWORK_ADDRESS_CHARS_MAX} characters")
    if not value.lower().startswith(hrp + "1"):
        raise ValueError(f"must be a CKB address starting with {hrp}1 on this network")
    got_hrp, payload, encoding = _decode_any_length(value)
    if got_hrp != hrp:
        raise ValueError(f"CKB address must start with {hrp}1 on this network")
    _check_ckb_payload(payload, encoding)
    return value.lower()


def _check_ckb_payload(payload: bytes, encoding: bech32.Encoding) -> None:
    kind = payload[0] if payload else None
    if kind == 0x00:  # full format: 0x00 | code_hash | hash_type | args
        if encoding is not bech32.Encoding.BECH32M:
            raise ValueError("a full-format CKB address must use bech32m")
        if len(payload) < 34 or payload[33] not in _CKB_HASH_TYPES:
            raise ValueError("CKB full address must hold a 32-byte code hash and a hash type")
    elif kind == 0x01:  # deprecated short format: 0x01 | code_hash_index | 20-byte args
        if encoding is not bech32.Encoding.BECH32:
            raise ValueError("a short-format CKB address must use bech32")
        if len(payload) != 22 or payload[1] not in _CKB_SHORT_CODE_HASH_INDEXES:
            raise ValueError("CKB short address must hold a known code hash index and 20 bytes")
    elif kind in (0x02, 0x04):  # deprecated full format: 0x02/0x04 | code_hash | args
        if encoding is not bech32.Encoding.BECH32 or len(payload) < 33:
            raise ValueError("deprecated full CKB address must be bech32 with a 32-byte code hash")
    else:
        raise ValueError("CKB address has an unknown payload format (0x00, 0x01, 0x02, 0x04)")


def _decode_any_length(value: str) -> tuple[str, bytes, bech32.Encoding]:
    """A bech32/bech32m string split and checked as BIP-173 says, without its length limit."""
    if value.lower() != value and value.upper() != value:
        raise ValueError("must not mix upper and lower case (bech32)")
    text = value.lower()
    separator = text.rfind("1")
    data_part = text[separator + 1 :]
    if separator < 1 or len(data_part) < 7 or any(c not in bech32.CHARSET for c in data_part):
        raise ValueError("is not bech32: prefix, '1', then at least 7 bech32 characters")
    hrp = text[:separator]
    data = bytes(bech32.CHARSET.index(c) for c in data_part)
    try:
        encoding = bech32.bech32_verify_checksum(hrp, data)
        payload = bytes(bech32.convertbits(data[:-6], 5, 8, False))
    except bech32.DecodeError:
        raise ValueError("fails its bech32 checksum (a character is wrong or missing)") from None
    return hrp, payload, encoding


def bitcoin_address_rule(value: object, hrp: str, versions: tuple[int, int]) -> str:
    """A Bitcoin address of one network: segwit (lowercase) or legacy Base58Check (as is)."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if value.lower().startswith(hrp + "1"):
        if len(value) > 90:
            raise ValueError("a segwit address is at most 90 characters (BIP-173)")
        try:
            bech32.decode(hrp, value.lower() if value.isupper() else value)
        except bech32.DecodeError:
            raise ValueError(
                "is not a valid segwit address (checksum, witness version or program length; "
                "v0 uses bech32, v1+ bech32m)"
            ) from None
        return value.lower()
    version = _legacy_version(value)
    if version not in versions:
        raise ValueError(f"must be a segwit address ({hrp}1…) or a P2PKH/P2SH of this network")
    return value


def _legacy_version(value: str) -> int | None:
    if not LEGACY_BITCOIN_CHARS[0] <= len(value) <= LEGACY_BITCOIN_CHARS[1]:
        return None
    try:
        decoded = base58.b58decode_check(value)
    except ValueError:
        return None
    return decoded[0] if len(decoded) == 21 else None


def _legacy_bitcoin_any(value: str) -> str:
    version = _legacy_version(value)
    if version is None or not any(version in v for _hrp, v in BITCOIN_PARAMS.values()):
        raise ValueError("is not a Base58Check Bitcoin address (P2PKH or P2SH)")
    return value


# --- storage ---------------------------------------------------------------------------------


class NetworkAddressType(AddressType):
    """An address of any network family (CKB's are long): canonical in, EVM checksummed out."""

    impl = sa.String(NETWORK_ADDRESS_CHARS_MAX)
    cache_ok = True


def network_address_check(column: str, *, fast: bool = False) -> sa.CheckConstraint:
    """The database's side of any_address_rule: an EVM address (lowercase), base58 (Solana,
    legacy Bitcoin), or lowercase bech32 (CKB, segwit). Checksums are the code's to check."""
    return sa.CheckConstraint(
        DialectSQL(
            column,
            sqlite="(length({col}) = 42 AND substr({col}, 1, 2) = '0x'"
            " AND substr({col}, 3) NOT GLOB '*[^0-9a-f]*')"
            " OR (length({col}) BETWEEN 26 AND 44"
            " AND {col} NOT GLOB '*[^" + BASE58_CHARS + "]*')"
            f" OR (length({{col}}) BETWEEN 8 AND {NETWORK_ADDRESS_CHARS_MAX}"
            " AND instr({col}, '1') > 1 AND {col} NOT GLOB '*[^a-z0-9]*')",
            postgresql=format_rule_postgresql("0x", "0-9a-f", 40, 40, fast=fast)
            + " OR "
            + format_rule_postgresql("", BASE58_CHARS, 26, 44, fast=fast)
            + " OR {col} ~ '^[a-z]{{1,83}}1[02-9ac-hj-np-z]{{6,}}$'",
        ),
        name=f"{column}_network_address",
    )


# A pydantic type: an address of any family, told apart by its shape.
AnyAddress = Annotated[str, BeforeValidator(lambda value: any_address_rule(value))]
