"""On an EVM chain the chain tracker moves a token's status: a real transaction on eth-tester's
in-process EVM, followed to finality by chain.track."""

from __future__ import annotations

from chaindb import chain, core, tokens


def test_the_tracker_confirms_a_token_created_on_an_evm_chain(core_db):
    node = chain.connect_chain(confirmations=2)
    creator = node.funded_account(1)
    core.create_user(core_db, "minter")
    sent = chain.send_transaction(
        core_db,
        node,
        creator,
        {"to": node.funded_account(2).address, "value": 1},
        transaction_type="token_create",
        user_id="minter",
    )
    token = tokens.create_token(
        core_db,
        name="Demo",
        symbol="DEMO",
        supply=10**24,
        creator_id="minter",
        network_id=node.chain_id,
        tx_hash=sent.transaction_hash,
    )
    assert token.status == "pending"
    node.tester.mine_blocks(3)
    chain.track(core_db, node)
    assert tokens.get_token(core_db, token.id).status == "confirmed"
    assert tokens.get_recent_transactions(core_db, "minter")[0].status == "confirmed"
