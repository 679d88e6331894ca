"""Metaplex Bubblegum, the part chaindb can do offline with solders: asset ids (PDAs), the
tree config account, and a `mint_v1` instruction in a transaction signed locally.

- Asset id = PDA(["asset", tree, leaf index as u64 little-endian], Bubblegum) (Bubblegum's
  utils.rs `get_asset_id`); tree config = PDA([tree], Bubblegum).
- `mint_v1`'s data is Anchor's discriminator (sha256("global:mint_v1")[:8]) and the
  Borsh-encoded MetadataArgs; its accounts are those of Bubblegum's `MintV1` context, in order.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from dataclasses import dataclass

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

BUBBLEGUM_PROGRAM_ID = Pubkey.from_string("BGUMAp9Gq7iTEuizy4pqaxsTyUCBK68MDfK752saRPUY")
COMPRESSION_PROGRAM_ID = Pubkey.from_string("cmtDvXumGCrqC1Age74AVPhSRVXJMd8PJS91L8KbNCK")
NOOP_PROGRAM_ID = Pubkey.from_string("noopb9bkMVfRPU8AsbpTUg8AQkHtKwMYZiFUjNRtMmV")
SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
MINT_V1_DISCRIMINATOR = hashlib.sha256(b"global:mint_v1").digest()[:8]
LAMPORTS_PER_SIGNATURE = 5_000  # Solana's base fee per signature
NAME_BYTES_MAX = 32  # mpl-bubblegum's MetadataArgs limits
SYMBOL_BYTES_MAX = 10
URI_BYTES_MAX = 200
TOKEN_STANDARD_NON_FUNGIBLE = 0
TOKEN_PROGRAM_VERSION_ORIGINAL = 0
TREE_CONFIGS_CACHED_MAX = 1_024


def asset_id(tree: str, leaf_index: int) -> str:
    """The asset id Bubblegum gives the leaf `leaf_index` of `tree` (its nonce)."""
    address, _bump = Pubkey.find_program_address(
        [b"asset", bytes(Pubkey.from_string(tree)), struct.pack("<Q", leaf_index)],
        BUBBLEGUM_PROGRAM_ID,
    )
    return str(address)


@functools.lru_cache(maxsize=TREE_CONFIGS_CACHED_MAX)
def tree_config(tree: str) -> str:
    """The tree's Bubblegum config account (creator, delegate, capacity, num_minted). Cached:
    every mint into the tree names it (a PDA search is about 10 us)."""
    address, _bump = Pubkey.find_program_address(
        [bytes(Pubkey.from_string(tree))], BUBBLEGUM_PROGRAM_ID
    )
    return str(address)


@dataclass(frozen=True)
class MintArgs:
    """What a compressed NFT carries on chain (the rest of its metadata is at `uri`)."""

    name: str
    uri: str
    symbol: str = ""
    seller_fee_basis_points: int = 0
    creators: tuple[tuple[str, int], ...] = ()  # (address, share %), unverified


def mint_v1_instruction(
    *, tree: str, leaf_owner: str, payer: Pubkey, tree_delegate: Pubkey, args: MintArgs
) -> Instruction:
    """Bubblegum's mint_v1: mint a compressed NFT owned by `leaf_owner` into `tree`."""
    owner = Pubkey.from_string(leaf_owner)
    tree_key = Pubkey.from_string(tree)
    accounts = [
        AccountMeta(Pubkey.from_string(tree_config(tree)), is_signer=False, is_writable=True),
        AccountMeta(owner, is_signer=False, is_writable=False),
        AccountMeta(owner, is_signer=False, is_writable=False),  # leaf delegate: the owner
        AccountMeta(tree_key, is_signer=False, is_writable=True),
        AccountMeta(payer, is_signer=True, is_writable=True),
        AccountMeta(tree_delegate, is_signer=True, is_writable=False),
        AccountMeta(NOOP_PROGRAM_ID, is_signer=False, is_writable=False),
        AccountMeta(COMPRESSION_PROGRAM_ID, is_signer=False, is_writable=False),
        AccountMeta(SYSTEM_PROGRAM_ID, is_signer=False, is_writable=False),
    ]
    return Instruction(BUBBLEGUM_PROGRAM_ID, MINT_V1_DISCRIMINATOR + _metadata_args(args), accounts)


def signed_transaction(
    instructions: list[Instruction], *, payer: Keypair, signers: list[Keypair], blockhash: Hash
) -> Transaction:
    """A legacy transaction paid by `payer`, signed locally by it and `signers`."""
    return Signers.of(payer, signers).sign(instructions, blockhash)


@dataclass(frozen=True)
class Signers:
    """A transaction's payer and other signers, each once, with the payer's public key:
    Keypair.pubkey() derives the key again at each call (about 18 us), so a minter signing
    many transactions makes this once."""

    keypairs: tuple[Keypair, ...]
    payer_key: Pubkey

    @classmethod
    def of(cls, payer: Keypair, signers: list[Keypair]) -> Signers:
        unique = {key.pubkey(): key for key in (payer, *signers)}
        return cls(keypairs=tuple(unique.values()), payer_key=next(iter(unique)))

    def sign(self, instructions: list[Instruction], blockhash: Hash) -> Transaction:
        message = Message.new_with_blockhash(instructions, self.payer_key, blockhash)
        return Transaction(list(self.keypairs), message, blockhash)


def _metadata_args(args: MintArgs) -> bytes:
    """Borsh: strings as u32 length + UTF-8, Option as a u8 tag, enums as u8, Vec as u32 count."""
    out = _string(args.name, NAME_BYTES_MAX, "name") + _string(
        args.symbol, SYMBOL_BYTES_MAX, "symbol"
    )
    out += _string(args.uri, URI_BYTES_MAX, "uri")
    out += struct.pack("<H", args.seller_fee_basis_points)
    out += bytes([0, 1])  # primary_sale_happened = false, is_mutable = true
    out += bytes([0])  # edition_nonce: None
    out += bytes([1, TOKEN_STANDARD_NON_FUNGIBLE])  # token_standard: Some(NonFungible)
    out += bytes([0, 0])  # collection: None, uses: None
    out += bytes([TOKEN_PROGRAM_VERSION_ORIGINAL])
    out += struct.pack("<I", len(args.creators))
    for address, share in args.creators:
        out += bytes(Pubkey.from_string(address)) + bytes([0, share])  # verified = false
    return out


def _string(value: str, bytes_max: int, field: str) -> bytes:
    encoded = value.encode("utf-8")
    if len(encoded) > bytes_max:
        raise ValueError(f"{field} must be at most {bytes_max} bytes of UTF-8 (Bubblegum's limit)")
    return struct.pack("<I", len(encoded)) + encoded
