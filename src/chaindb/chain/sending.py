"""Send a transaction so that nothing about it is lost.

The transaction is signed locally and logged as pending, raw bytes included, before it is
broadcast: if the process dies after sending, the row is already there (and the tracker follows
it); if it dies before, rerunning signs the same nonce again. Nonces come from chaindb's own log
and the node's mined count, whichever is higher: a node's 'pending' count misses transactions it
has not seen. A node that is not the chain this database follows is refused before anything
is signed (chain.pins); the first transaction on a chain pins it, in the transaction that logs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from chaindb.chain.client import Chain
from chaindb.chain.effects import register_effect
from chaindb.chain.pins import pin_chain, require_followed_chain
from chaindb.chain.resilience import ErrorKind, bump_gas, classify
from chaindb.core import BlockchainTransaction, last_logged_nonce, log_blockchain_transaction
from chaindb.database import Database
from chaindb.errors import ChaindbError

GAS_MARGIN_PERCENT = 20  # on top of the node's estimate


class SendFailed(ChaindbError):
    """The node refused the transaction (the error says why: gas, nonce, execution)."""


def next_nonce(db: Database, chain: Chain, sender: str) -> int:
    logged = last_logged_nonce(db, chain_id=chain.chain_id, from_address=sender)
    mined = chain.mined_nonce(sender)
    return max(mined, logged + 1 if logged is not None else 0)


def build_transaction(
    chain: Chain, sender: LocalAccount, call: dict[str, Any], *, nonce: int
) -> dict[str, Any]:
    """Fill in chain id, nonce, gas (estimate + margin) and gas price."""
    transaction = {"from": sender.address, "chainId": chain.numeric_id, "nonce": nonce, **call}
    transaction.setdefault("value", 0)
    if "gas" not in transaction:
        estimate = chain.call(lambda: chain.w3.eth.estimate_gas(transaction))
        transaction["gas"] = estimate * (100 + GAS_MARGIN_PERCENT) // 100
    if "gasPrice" not in transaction and "maxFeePerGas" not in transaction:
        transaction.update(eip1559_fees(chain))
    return transaction


def eip1559_fees(chain: Chain) -> dict[str, int]:
    """Type-2 fees: twice the current base fee plus the node's suggested tip."""
    base = int(chain.call(lambda: chain.w3.eth.get_block("latest"))["baseFeePerGas"])
    tip = int(chain.call(lambda: chain.w3.eth.max_priority_fee))
    return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}


def send_transaction(
    db: Database,
    chain: Chain,
    sender: LocalAccount,
    call: dict[str, Any],
    *,
    transaction_type: str,
    user_id: str | None = None,
    challenge_id: int | None = None,
    nonce: int | None = None,
    effects: Sequence[tuple[str, dict[str, Any]]] = (),
) -> BlockchainTransaction:
    """Sign `call` (to, data, value...), log it as pending together with the ledger `effects`
    it will have once final (see chain.effects), then broadcast it."""
    require_followed_chain(db, chain, new_chain_ok=True)
    if nonce is None:
        nonce = next_nonce(db, chain, sender.address)
    transaction = build_transaction(chain, sender, call, nonce=nonce)
    labels = {
        "transaction_type": transaction_type,
        "user_id": user_id,
        "challenge_id": challenge_id,
    }
    return _sign_log_broadcast(db, chain, sender, transaction, effects, labels)


def replace_transaction(
    db: Database,
    chain: Chain,
    sender: LocalAccount,
    original: BlockchainTransaction,
    call: dict[str, Any] | None = None,
    *,
    transaction_type: str = "replacement",
) -> BlockchainTransaction:
    """Send at the same nonce, 20 % dearer: the original is then replaced (or, if it still
    gets mined first, the replacement fails as a nonce error)."""
    if original.nonce is None or original.gas_price_wei is None:
        raise SendFailed(f"{original.transaction_hash} has no nonce or gas price to replace")
    require_followed_chain(db, chain, new_chain_ok=False)
    replacement = call or {"to": sender.address, "value": 0, "gas": 21_000}  # a cancel
    # The original's tip is at most its max fee: bumping both from the max fee outbids it.
    fee = original.gas_price_wei
    priced = {**replacement, "maxFeePerGas": fee, "maxPriorityFeePerGas": fee}
    transaction = bump_gas(build_transaction(chain, sender, priced, nonce=original.nonce))
    labels = {"transaction_type": transaction_type}
    return _sign_log_broadcast(db, chain, sender, transaction, (), labels)


def rebroadcast(db: Database, chain: Chain, transaction: BlockchainTransaction) -> None:
    """Send the stored raw bytes again (after a reorg dropped it from the chain)."""
    if transaction.raw_transaction is None:
        raise SendFailed(f"{transaction.transaction_hash} has no raw transaction stored")
    if transaction.chain_id != chain.chain_id:
        raise SendFailed(
            f"{transaction.transaction_hash} was sent on {transaction.chain_id}, not on "
            f"{chain.chain_id} ({chain.node})"
        )
    require_followed_chain(db, chain, new_chain_ok=False)
    _broadcast(chain, HexBytes(transaction.raw_transaction), transaction.transaction_hash)


def _sign_log_broadcast(
    db: Database,
    chain: Chain,
    sender: LocalAccount,
    transaction: dict[str, Any],
    effects: Sequence[tuple[str, dict[str, Any]]],
    labels: dict[str, Any],
) -> BlockchainTransaction:
    signed = sender.sign_transaction({k: v for k, v in transaction.items() if k != "from"})
    raw = bytes(signed.raw_transaction)
    tx_hash = "0x" + bytes(signed.hash).hex()
    with db.transaction() as conn:
        pin_chain(conn, chain)
        logged = log_blockchain_transaction(
            conn,
            chain_id=chain.chain_id,
            transaction_hash=tx_hash,
            from_address=sender.address,
            to_address=transaction.get("to"),
            contract_address=transaction.get("to"),
            value_wei=transaction.get("value", 0),
            nonce=transaction["nonce"],
            gas_price_wei=transaction.get("gasPrice") or transaction.get("maxFeePerGas"),
            raw_transaction="0x" + raw.hex(),
            **{k: v for k, v in labels.items() if v is not None},
        )
        for effect, payload in effects:
            register_effect(
                conn,
                chain_id=chain.chain_id,
                transaction_hash=tx_hash,
                effect=effect,
                payload={**payload, "transaction_hash": tx_hash},
            )
    _broadcast(chain, raw, tx_hash)
    return logged


def _broadcast(chain: Chain, raw: bytes, tx_hash: str) -> None:
    try:
        chain.send_raw(raw)
    except Exception as error:
        if classify(error) == ErrorKind.NONCE and chain.transaction(tx_hash) is not None:
            return  # "already known": the node has it, which is all we wanted
        raise SendFailed(f"{tx_hash} was refused ({classify(error).value}): {error}") from error
