"""Which networks tokens live on, and the values tied to a network (contract, tx hash)."""

from __future__ import annotations

from chaindb.errors import InvalidInput
from chaindb.networks import CKB_HRPS, CKB_MAINNET, CKB_TESTNET, namespace_of
from chaindb.types import EVM_NAMESPACE, address_rule, chain_id_rule, hash32_rule

# The seed's network_id is 'mainnet' or 'testnet' (of CKB): read as the CAIP-2 ids.
SEED_NETWORKS = {"mainnet": CKB_MAINNET, "testnet": CKB_TESTNET}
TOKEN_NAMESPACES = ("ckb", EVM_NAMESPACE)


def parse_network(value: object, field: str = "network_id") -> str:
    """A token network: ckb:mainnet, ckb:testnet (or the seed's mainnet/testnet), or eip155:N.
    (Bitcoin txids are not 0x-hex: transactions on bip122 networks are not tracked yet.)"""
    if isinstance(value, str) and value in SEED_NETWORKS:
        return SEED_NETWORKS[value]
    try:
        network = chain_id_rule(value)
    except ValueError as error:
        raise InvalidInput(field, value, str(error)) from None
    if namespace_of(network) not in TOKEN_NAMESPACES or (
        namespace_of(network) == "ckb" and network not in CKB_HRPS
    ):
        raise InvalidInput(
            field, value, "tokens live on ckb:mainnet, ckb:testnet or an EVM chain (eip155:N)"
        )
    return network


def parse_contract(value: object, network: str, field: str = "contract_address") -> str:
    """An EVM token contract (lowercase) or, on CKB, the token's type script hash (0x + 64)."""
    if namespace_of(network) != EVM_NAMESPACE:
        try:
            return hash32_rule(value)
        except ValueError:
            rule = "must be the xUDT's type script hash on CKB (0x + 64 hex)"
            raise InvalidInput(field, value, f"{rule} (network {network})") from None
    try:
        if isinstance(value, str) and len(value) != 42:
            raise ValueError("must be the token contract's EVM address (0x + 40 hex)")
        return address_rule(value)
    except ValueError as error:
        raise InvalidInput(field, value, f"{error} (network {network})") from None


def parse_network_tx_hash(value: object, network: str, field: str = "tx_hash") -> str:
    """A transaction hash of the network: 0x + 64 hex on CKB and EVM chains, lowercase."""
    try:
        return hash32_rule(value)
    except ValueError as error:
        raise InvalidInput(field, value, f"{error} (network {network})") from None
