"""The tracker follows sent transactions: mined, confirmed, final; failed, replaced, dropped."""

from __future__ import annotations

import sqlalchemy as sa

from chaindb import core
from chaindb.chain.escrow import escrow_contract
from chaindb.chain.sending import (
    build_transaction,
    rebroadcast,
    replace_transaction,
    send_transaction,
)
from chaindb.chain.tracker import track
from tests.chain.conftest import CONFIRMATIONS


def tx_of(bridge, tx):
    return core.get_blockchain_transaction(bridge.db, tx.transaction_hash, bridge.chain.chain_id)


def pay(bridge, value: int = 1_000):
    return send_transaction(
        bridge.db,
        bridge.chain,
        bridge.players["alice"],
        {"to": bridge.players["bob"].address, "value": value},
        transaction_type="payment",
        user_id="alice",
    )


def test_a_transaction_is_followed_from_pending_to_final(bridge):
    bridge.chain.tester.disable_auto_mine_transactions()
    sent = pay(bridge)
    assert (sent.status, sent.nonce, sent.raw_transaction is not None) == ("pending", 0, True)
    track(bridge.db, bridge.chain)
    assert tx_of(bridge, sent).last_seen_at is not None, "the node has it in its pool"
    bridge.mine()
    report = track(bridge.db, bridge.chain)
    mined = tx_of(bridge, sent)
    assert (report.mined, mined.status, mined.confirmations, mined.is_final) == (
        1,
        "success",
        1,
        False,
    )
    assert (mined.gas_used, mined.block_hash[:2]) == (21_000, "0x")
    assert mined.effective_gas_price_wei > 0
    bridge.mine(CONFIRMATIONS - 1)
    assert track(bridge.db, bridge.chain).finalized == 1
    final = tx_of(bridge, sent)
    assert (final.confirmations, final.is_final) == (CONFIRMATIONS, True)


def test_a_reverted_transaction_is_failed(bridge):
    data = escrow_contract(bridge.chain, bridge.escrow).encode_abi("claim", [12345])
    sent = send_transaction(
        bridge.db,
        bridge.chain,
        bridge.players["alice"],
        {"to": bridge.escrow, "data": data, "gas": 100_000},
        transaction_type="challenge_claim",
    )
    track(bridge.db, bridge.chain)
    failed = tx_of(bridge, sent)
    assert (failed.status, failed.error_message) == ("failed", "reverted")
    assert failed.block_number is not None


def test_a_replaced_nonce_is_detected(bridge):
    bridge.chain.tester.disable_auto_mine_transactions()
    original = pay(bridge)
    replacement = replace_transaction(bridge.db, bridge.chain, bridge.players["alice"], original)
    assert replacement.nonce == original.nonce
    assert replacement.gas_price_wei == -(-original.gas_price_wei * 120 // 100)  # +20 %, rounded up
    bridge.mine()
    report = track(bridge.db, bridge.chain)
    assert (report.replaced, report.mined) == (1, 1)
    replaced = tx_of(bridge, original)
    assert (replaced.status, replaced.replaced_by_hash) == (
        "replaced",
        replacement.transaction_hash,
    )
    assert tx_of(bridge, replacement).status == "success"


def test_a_transaction_the_node_never_saw_is_dropped_after_the_timeout(bridge):
    alice = bridge.players["alice"]
    call = {"to": bridge.players["bob"].address, "value": 1, "gas": 21_000}
    unsent = alice.sign_transaction(
        {
            k: v
            for k, v in build_transaction(bridge.chain, alice, call, nonce=0).items()
            if k != "from"
        }
    )
    logged = core.log_blockchain_transaction(  # logged, then the process died before sending
        bridge.db,
        chain_id=bridge.chain.chain_id,
        transaction_hash="0x" + bytes(unsent.hash).hex(),
        transaction_type="payment",
        from_address=alice.address,
        nonce=0,
        raw_transaction="0x" + bytes(unsent.raw_transaction).hex(),
    )
    track(bridge.db, bridge.chain, dropped_after_s=3600)
    assert tx_of(bridge, logged).status == "pending"
    assert track(bridge.db, bridge.chain, dropped_after_s=0).dropped == 1
    dropped = tx_of(bridge, logged)
    assert dropped.status == "dropped" and "not seen by the node" in dropped.error_message
    core.update_blockchain_transaction_status(bridge.db, logged.transaction_hash, "pending")
    rebroadcast(bridge.db, bridge.chain, dropped)
    assert track(bridge.db, bridge.chain).mined == 1
    assert tx_of(bridge, logged).status == "success"


def test_rerunning_the_tracker_over_the_same_blocks_changes_nothing(bridge):
    pay(bridge)
    bridge.mine(CONFIRMATIONS)
    track(bridge.db, bridge.chain)
    with bridge.db.read() as conn:
        before = conn.execute(sa.text("SELECT * FROM blockchain_transactions ORDER BY id")).all()
    again = track(bridge.db, bridge.chain)
    assert (again.mined, again.finalized, again.reorged, again.effects_applied) == (0, 0, 0, 0)
    with bridge.db.read() as conn:
        after = conn.execute(sa.text("SELECT * FROM blockchain_transactions ORDER BY id")).all()
    assert after == before


def test_a_pass_reports_its_progress_through_the_pending_transactions(bridge):
    bridge.chain.tester.disable_auto_mine_transactions()
    for payer in bridge.players.values():  # one each: eth-tester queues one nonce per sender
        send_transaction(
            bridge.db, bridge.chain, payer, {"to": payer.address, "value": 1}, transaction_type="p"
        )
    heard = []
    track(bridge.db, bridge.chain, progress=lambda *step: heard.append(step))
    pending = [done for step, done, total in heard if step == "following pending transactions"]
    assert pending == [0, 1, 2, 3]
    assert {total for step, _, total in heard if step == "following pending transactions"} == {3}
