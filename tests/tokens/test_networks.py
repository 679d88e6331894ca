"""CKB and Bitcoin addresses (RGB++ lives on both) are accepted on their networks, checked
(bech32/bech32m, Base58Check), stored in one canonical form, and refused elsewhere."""

from __future__ import annotations

import pytest

from chaindb import InvalidInput
from chaindb.networks import (
    BITCOIN_MAINNET,
    BITCOIN_TESTNET,
    CKB_MAINNET,
    CKB_TESTNET,
    any_address_rule,
    parse_network_address,
)
from tests.tokens.addresses import (
    BTC_P2PKH,
    BTC_P2SH,
    BTC_P2TR,
    BTC_P2WPKH,
    EVM,
    RFC_DEPRECATED_FULL_MAINNET,
    RFC_FULL_MAINNET,
    RFC_SHORT_MAINNET,
    TBTC_P2WPKH,
    ckb_address,
    ckb_user,
)


@pytest.mark.parametrize(
    ("address", "network"),
    [
        (RFC_FULL_MAINNET, CKB_MAINNET),
        (RFC_SHORT_MAINNET, CKB_MAINNET),
        (RFC_DEPRECATED_FULL_MAINNET, CKB_MAINNET),
        (ckb_user(7), CKB_TESTNET),
        (ckb_address(bytes(80)), CKB_TESTNET),  # long args: past BIP-173's 90 characters
        (BTC_P2WPKH, BITCOIN_MAINNET),
        (BTC_P2TR, BITCOIN_MAINNET),
        (BTC_P2PKH, BITCOIN_MAINNET),
        (BTC_P2SH, BITCOIN_MAINNET),
        (TBTC_P2WPKH, BITCOIN_TESTNET),
        (EVM, "eip155:1"),
    ],
)
def test_an_address_of_its_network_is_accepted(address, network):
    canonical = parse_network_address(address, network)
    assert canonical == (address if address[0] in "13" else address.lower())
    assert any_address_rule(address) == canonical


def test_bech32_is_stored_lowercase_and_mixed_case_is_refused():
    assert parse_network_address(BTC_P2WPKH.upper(), BITCOIN_MAINNET) == BTC_P2WPKH
    assert parse_network_address(RFC_FULL_MAINNET.upper(), CKB_MAINNET) == RFC_FULL_MAINNET
    mixed = RFC_FULL_MAINNET[:10] + RFC_FULL_MAINNET[10:].upper()
    with pytest.raises(InvalidInput, match="mix upper and lower case"):
        parse_network_address(mixed, CKB_MAINNET)


@pytest.mark.parametrize(
    ("address", "network", "rule"),
    [
        (RFC_FULL_MAINNET[:-1] + "5", CKB_MAINNET, "checksum"),
        (RFC_FULL_MAINNET, CKB_TESTNET, "starting with ckt1"),
        (ckb_user(1), CKB_MAINNET, "starting with ckb1"),
        (EVM, CKB_TESTNET, "CKB address"),
        (BTC_P2WPKH[:-1] + "5", BITCOIN_MAINNET, "not a valid segwit address"),
        (BTC_P2PKH, BITCOIN_TESTNET, "P2PKH/P2SH of this network"),
        (TBTC_P2WPKH, BITCOIN_MAINNET, "P2PKH/P2SH of this network"),
        (BTC_P2PKH[:-1] + "3", BITCOIN_MAINNET, "P2PKH/P2SH of this network"),
        (BTC_P2WPKH, "eip155:1", "EVM address"),
        (RFC_FULL_MAINNET, "ckb:devnet", "CKB networks are ckb:mainnet, ckb:testnet"),
    ],
)
def test_an_address_of_another_network_or_with_a_typo_is_refused(address, network, rule):
    with pytest.raises(InvalidInput, match=rule) as refused:
        parse_network_address(address, network, "wallet_address")
    assert refused.value.field == "wallet_address"


def test_a_full_ckb_address_must_use_bech32m():
    from bech32m import codecs

    payload = b"\x00" + bytes(32) + b"\x01" + bytes(20)
    bech32_spelling = codecs.bech32_encode(
        "ckt", bytes(codecs.convertbits(payload, 8, 5)), codecs.Encoding.BECH32
    )
    with pytest.raises(InvalidInput, match="must use bech32m"):
        parse_network_address(bech32_spelling, CKB_TESTNET)
