"""Signatures verified with eth-account, and settlements refused without an authorised one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from chaindb import InvalidInput, core
from chaindb.chain.escrow import escrow_contract
from chaindb.chain.settlement import resolve_challenge_on_chain
from chaindb.chain.signatures import SignatureRefused, resolution_typed_data, sign_resolution
from tests.chain.conftest import open_challenge

# The example of the EIP-712 specification (eip-712.md, "Example"): its key is keccak("cow").
MAIL = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person"},
            {"name": "contents", "type": "string"},
        ],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 1,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "message": {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
        "contents": "Hello, Bob!",
    },
}
MAIL_DIGEST = "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
MAIL_SIGNATURE = (
    "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
    "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"
    "1c"  # v = 28
)
COW = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"


def test_the_eip712_specification_example_verifies(core_db):
    logged = core.log_admin_signature(
        core_db, admin_address=COW, signature=MAIL_SIGNATURE, typed_data=MAIL, challenge_id=1
    )
    assert (logged.message_hash, logged.signature_type, logged.is_verified) == (
        MAIL_DIGEST,
        "eip712",
        True,
    )
    other = core.log_admin_signature(
        core_db,
        admin_address="0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB",
        signature=MAIL_SIGNATURE,
        typed_data={**MAIL, "message": {**MAIL["message"], "contents": "x"}},
    )
    assert not other.is_verified


def test_our_signature_of_the_example_is_the_specifications(core_db):
    cow = Account.from_key(keccak(text="cow"))
    signed = Account.sign_typed_data(cow.key, full_message=MAIL)
    assert "0x" + bytes(signed.signature).hex() == MAIL_SIGNATURE


def test_eip191_messages_verify_and_forgeries_do_not(core_db):
    admin, forger = Account.create(), Account.create()
    message = "resolve challenge 7: YES"
    genuine = Account.sign_message(encode_defunct(text=message), admin.key)
    forged = Account.sign_message(encode_defunct(text=message), forger.key)
    ok = core.log_admin_signature(
        core_db,
        admin_address=admin.address,
        signature="0x" + bytes(genuine.signature).hex(),
        message=message,
    )
    bad = core.log_admin_signature(
        core_db,
        admin_address=admin.address,
        signature="0x" + bytes(forged.signature).hex(),
        message=message,
    )
    assert (ok.is_verified, ok.signature_type, bad.is_verified) == (True, "eip191", False)
    with pytest.raises(InvalidInput, match="message_hash"):
        core.log_admin_signature(
            core_db,
            admin_address=admin.address,
            message=message,
            signature="0x" + bytes(genuine.signature).hex(),
            message_hash="0x" + "00" * 32,
        )


def test_the_resolution_digest_is_the_contracts(bridge):
    typed = resolution_typed_data(
        challenge_id=9,
        winning_side="NO",
        chain_id=bridge.chain.numeric_id,
        escrow_address=bridge.escrow,
    )
    signed = Account.sign_typed_data(bridge.admin.key, full_message=typed)
    on_chain = escrow_contract(bridge.chain, bridge.escrow).functions.resolutionDigest(9, 2).call()
    assert bytes(signed.message_hash) == bytes(on_chain)
    assert sign_resolution(bridge.admin, typed).signature == "0x" + bytes(signed.signature).hex()


def count_resolve_transactions(db) -> int:
    with db.read() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM blockchain_transactions"
                " WHERE transaction_type = 'challenge_resolve'"
            )
        ).scalar_one()


def test_a_settlement_signed_by_anyone_else_is_refused_and_nothing_is_sent(bridge):
    challenge = open_challenge(bridge, {"alice": ("YES", 10**18), "bob": ("NO", 10**18)})
    with pytest.raises(SignatureRefused, match="not an authorised admin"):
        resolve_challenge_on_chain(
            bridge.db,
            bridge.chain,
            challenge_id=challenge.id,
            winning_side="YES",
            admin=Account.create(),
            sender=bridge.deployer,
        )
    core.revoke_contract_admin(
        bridge.db,
        chain_id=bridge.chain.chain_id,
        contract_address=bridge.escrow,
        admin_address=bridge.admin.address,
    )
    with pytest.raises(SignatureRefused):
        resolve_challenge_on_chain(
            bridge.db,
            bridge.chain,
            challenge_id=challenge.id,
            winning_side="YES",
            admin=bridge.admin,
            sender=bridge.deployer,
        )
    assert count_resolve_transactions(bridge.db) == 0
