"""The tokens module's part of `make demo` (seed 003, SiTa Minter): a user signs in with a CKB
wallet, creates an RGB++ token, its creation transaction is confirmed, and the supply lands in
the ledger."""

from __future__ import annotations

from hashlib import blake2b

from bech32m import codecs
from rich.console import Console
from rich.table import Table

from chaindb import core, ledger
from chaindb.database import Database
from chaindb.networks import CKB_TESTNET
from chaindb.tokens.tokens import create_token, get_token, issue_supply
from chaindb.tokens.transactions import get_recent_transactions, record_transaction_outcome

SECP256K1_BLAKE160 = "9bd7e06f3ecf4be0f2fcd2188b23f1b9fcc88e5d4b65a8637b17723bbda3cce8"


def demo_ckb_address(seed: str) -> str:
    """A testnet CKB address (full format, secp256k1-blake160 lock) whose args come from `seed`."""
    args = blake2b(seed.encode(), digest_size=20).digest()
    payload = b"\x00" + bytes.fromhex(SECP256K1_BLAKE160) + b"\x01" + args
    return codecs.bech32_encode(
        "ckt", bytes(codecs.convertbits(payload, 8, 5)), codecs.Encoding.BECH32M
    )


def story(db: Database, console: Console) -> None:
    say = console.print
    address = demo_ckb_address("sita demo creator")
    wallet = core.ensure_wallet_user(
        db, wallet_address=address, chain_id=CKB_TESTNET, username="sita"
    )
    say(f"\n[bold]Tokens[/bold] (seed 003): user {wallet.user_id} signs in with {address[:24]}…")
    creation_tx = "0x" + blake2b(b"sita demo token", digest_size=32).hexdigest()
    token = create_token(
        db,
        name="SiTa Demo Token",
        symbol="SITA",
        supply=2**64 * 10**8,  # past BIGINT: the seed kept supply as text for that reason
        decimals=8,
        creator_id=wallet.user_id,
        network_id="testnet",
        description="An RGB++ xUDT minted on CKB testnet",
        tx_hash=creation_tx,
    )
    say(f"token {token.id} {token.symbol} created on {token.network_id}: {token.status}")
    record_transaction_outcome(
        db,
        network_id=CKB_TESTNET,
        tx_hash=creation_tx,
        outcome="confirmed",
        block_number=14_000_000,
    )
    token = get_token(db, token.id)
    assert token is not None
    say(f"its creation transaction is final on block 14,000,000: the token is {token.status}")
    issue_supply(db, token.id)
    balance = ledger.get_balance(
        db, f"user:{wallet.user_id}", ledger.get_asset(db, asset_id=token.asset_id).code
    )
    say(f"supply issued in the ledger: {balance.available} base units ({token.decimals} decimals)")
    table = Table("id", "type", "status", "network", "tx hash", title="recent transactions")
    for tx in get_recent_transactions(db, wallet.user_id, limit=10):
        table.add_row(str(tx.id), tx.tx_type, tx.status, tx.network_id, tx.tx_hash[:18] + "…")
    console.print(table)
