"""The ChallengeEscrow contract (and the demo ERC-20): deploy, stake, resolve, claim.

Deploying records a contract_deployments row with the ABI hash and authorises the admin.
Every call goes out through chain.sending: logged as pending before it is broadcast.
"""

from __future__ import annotations

from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from chaindb.chain.client import Chain, contract_artifact
from chaindb.chain.sending import send_transaction
from chaindb.chain.signatures import WINNER_CODES, SignedResolution
from chaindb.core import (
    BlockchainTransaction,
    ContractDeployment,
    add_contract_admin,
    get_contract_by_name,
    record_contract_deployment,
)
from chaindb.database import Database
from chaindb.errors import NotFound

ESCROW = "ChallengeEscrow"
TOKEN = "DemoToken"
NATIVE = "0x" + "00" * 20
RECEIPT_TIMEOUT_S = 120


def escrow_contract(chain: Chain, address: str) -> Contract:
    return chain.w3.eth.contract(address=address, abi=contract_artifact(ESCROW)["abi"])


def token_contract(chain: Chain, address: str) -> Contract:
    return chain.w3.eth.contract(address=address, abi=contract_artifact(TOKEN)["abi"])


def deployed_escrow(db: Database, chain: Chain) -> str:
    deployment = get_contract_by_name(db, ESCROW, chain.chain_id)
    if deployment is None:
        raise NotFound(f"no {ESCROW} deployed on {chain.chain_id}: deploy_escrow first")
    return deployment.contract_address


def deploy_escrow(
    db: Database, chain: Chain, deployer: LocalAccount, *, admin_address: str
) -> ContractDeployment:
    deployment = _deploy(db, chain, deployer, ESCROW, admin_address)
    add_contract_admin(
        db,
        chain_id=chain.chain_id,
        contract_address=deployment.contract_address,
        admin_address=admin_address,
    )
    return deployment


def deploy_demo_token(db: Database, chain: Chain, deployer: LocalAccount) -> ContractDeployment:
    return _deploy(db, chain, deployer, TOKEN)


def stake_on_chain(
    db: Database,
    chain: Chain,
    staker: LocalAccount,
    *,
    escrow_address: str,
    challenge_id: int,
    side: Literal["YES", "NO"],
    amount: int,
    token_address: str | None = None,
    user_id: str | None = None,
) -> BlockchainTransaction:
    """Stake `amount` (wei, or token units after an approve) on side 'YES' or 'NO'."""
    escrow = escrow_contract(chain, escrow_address)
    labels: dict[str, Any] = {"user_id": user_id, "challenge_id": challenge_id}
    if token_address is not None:
        approve = token_contract(chain, token_address).encode_abi(
            "approve", [escrow_address, amount]
        )
        send_transaction(
            db,
            chain,
            staker,
            {"to": token_address, "data": approve},
            transaction_type="token_approve",
            **labels,
        )
    data = escrow.encode_abi(
        "stake", [challenge_id, WINNER_CODES[side], token_address or NATIVE, amount]
    )
    value = 0 if token_address else amount
    return send_transaction(
        db,
        chain,
        staker,
        {"to": escrow_address, "data": data, "value": value},
        transaction_type="challenge_stake",
        **labels,
    )


def resolve_call(
    escrow_address: str, chain: Chain, challenge_id: int, signed: SignedResolution
) -> dict[str, Any]:
    winner = signed.typed_data["message"]["winner"]
    data = escrow_contract(chain, escrow_address).encode_abi(
        "resolve", [challenge_id, winner, signed.v, signed.r, signed.s]
    )
    return {"to": escrow_address, "data": data}


def claim_on_chain(
    db: Database,
    chain: Chain,
    claimer: LocalAccount,
    *,
    escrow_address: str,
    challenge_id: int,
    user_id: str | None = None,
) -> BlockchainTransaction:
    data = escrow_contract(chain, escrow_address).encode_abi("claim", [challenge_id])
    return send_transaction(
        db,
        chain,
        claimer,
        {"to": escrow_address, "data": data},
        transaction_type="challenge_claim",
        user_id=user_id,
        challenge_id=challenge_id,
    )


def mint_demo_token(
    db: Database, chain: Chain, minter: LocalAccount, *, token_address: str, to: str, amount: int
) -> BlockchainTransaction:
    data = token_contract(chain, token_address).encode_abi("mint", [to, amount])
    return send_transaction(
        db, chain, minter, {"to": token_address, "data": data}, transaction_type="token_mint"
    )


def wait_for_receipt(chain: Chain, tx_hash: str) -> Any:
    return chain.call(
        lambda: chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
    )


def _deploy(
    db: Database, chain: Chain, deployer: LocalAccount, name: str, *args: Any
) -> ContractDeployment:
    artifact = contract_artifact(name)
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    data = factory.constructor(*args).data_in_transaction
    tx = send_transaction(db, chain, deployer, {"data": data}, transaction_type="contract_deploy")
    receipt = wait_for_receipt(chain, tx.transaction_hash)
    return record_contract_deployment(
        db,
        contract_name=name,
        contract_address=receipt["contractAddress"],
        chain_id=chain.chain_id,
        abi=artifact["abi"],
        deployment_tx_hash=tx.transaction_hash,
        deployer_address=deployer.address,
        block_number=int(receipt["blockNumber"]),
    )
