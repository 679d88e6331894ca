"""The chain bridge's throughput on the in-process chain, and the database's share of it. JSON.

    make bench               # SQLite and PostgreSQL
    python bench/chain.py    # SQLite only, unless CHAINDB_TEST_PG_URL is set

- receipts tracked per second: TRANSACTIONS payments mined over a few blocks, then one tracker
  pass records every receipt (status, block, gas), and one more pass makes them final;
- blocks of logs ingested per second: BLOCKS blocks, each with one Staked event, read and
  stored by the escrow's event ingestion (projection included once they are final).
Time is split between the node (RPC calls), the database (statement execution) and the rest
(chaindb's own Python, decoding logs, signing).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from eth_account import Account

import chaindb
from chaindb import challenges, core, ledger, migrations
from chaindb.chain.client import Chain, connect_chain
from chaindb.chain.escrow import deploy_escrow, escrow_contract
from chaindb.chain.events import ingest_escrow_events
from chaindb.chain.sending import send_transaction
from chaindb.chain.tracker import track
from databases import PG_SKIPPED, postgres_admin_url, postgres_url, sqlite_url

TRANSACTIONS = 200
SENDERS = 10
BLOCKS = 100


class Clock:
    """Seconds spent waiting on the node and on the database, while something runs."""

    def __init__(self, db: chaindb.Database, chain: Chain) -> None:
        self.node_s = 0.0
        self.database_s = 0.0
        call = chain.call

        def timed_call(action: Callable[[], Any], **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(action, **kw)
            finally:
                self.node_s += time.perf_counter() - started

        chain.call = timed_call  # type: ignore[method-assign]
        starts: dict[int, float] = {}

        @sa.event.listens_for(db.engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, *args: Any) -> None:
            starts[id(cursor)] = time.perf_counter()

        @sa.event.listens_for(db.engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, *args: Any) -> None:
            self.database_s += time.perf_counter() - starts.pop(id(cursor), time.perf_counter())

    @contextmanager
    def measure(self, into: dict[str, float]) -> Iterator[None]:
        node, database, started = self.node_s, self.database_s, time.perf_counter()
        yield
        total = time.perf_counter() - started
        into.update(
            seconds=round(total, 3),
            node_share=round((self.node_s - node) / total, 3),
            database_share=round((self.database_s - database) / total, 3),
        )


def bench(url: str) -> dict[str, object]:
    db = chaindb.connect(url)
    migrations.migrate(db)
    chain = connect_chain(confirmations=2)
    clock = Clock(db, chain)
    result: dict[str, object] = {"backend": db.backend}

    # eth-tester queues one transaction per sender: ten senders, a block per round.
    payers = [chain.funded_account(n) for n in range(SENDERS)]
    chain.tester.disable_auto_mine_transactions()
    for _round in range(TRANSACTIONS // SENDERS):
        for payer in payers:
            send_transaction(
                db,
                chain,
                payer,
                {"to": payer.address, "value": 1, "gas": 21_000},
                transaction_type="payment",
            )
        chain.tester.mine_blocks(1)
    receipts: dict[str, float] = {}
    with clock.measure(receipts):
        report = track(db, chain)
    assert report.mined == TRANSACTIONS, report
    receipts["receipts_per_s"] = round(TRANSACTIONS / receipts["seconds"], 1)
    chain.tester.mine_blocks(chain.confirmations_required)
    final: dict[str, float] = {}
    with clock.measure(final):
        track(db, chain)  # the first pass already made the earliest blocks final
    with db.read() as conn:
        still_open = conn.execute(
            sa.text("SELECT count(*) FROM blockchain_transactions WHERE NOT is_final")
        ).scalar_one()
    assert still_open == 0, still_open
    result.update(receipts=receipts, finality=final)

    chain.tester.enable_auto_mine_transactions()
    escrow = deploy_escrow(
        db, chain, chain.funded_account(0), admin_address=Account.create().address
    )
    _stakes_in_blocks(db, chain, escrow.contract_address)
    chain.tester.mine_blocks(chain.confirmations_required)
    logs: dict[str, float] = {}
    with clock.measure(logs):
        ingested = ingest_escrow_events(db, chain, escrow_address=escrow.contract_address)
    assert ingested.ingested == BLOCKS and ingested.projected == BLOCKS, ingested
    head = chain.head()
    logs.update(
        blocks=head + 1,
        blocks_per_s=round((head + 1) / logs["seconds"], 1),
        events_per_s=round(BLOCKS / logs["seconds"], 1),
    )
    result["logs"] = logs
    assert ledger.check_ledger(db).ok
    db.close()
    return result


def _stakes_in_blocks(db: chaindb.Database, chain: Chain, escrow: str) -> None:
    """BLOCKS stakes, one per block, each by a known user into a challenge of its own."""
    staker = chain.funded_account(2)
    core.create_user(db, "staker")
    core.add_user_wallet(
        db, user_id="staker", wallet_address=staker.address, chain_id=chain.chain_id
    )
    eth = ledger.ensure_token_asset(
        db, chain_id=chain.chain_id, token_address=None, symbol="ETH", decimals=18
    )
    contract = escrow_contract(chain, escrow)
    for _ in range(BLOCKS):
        challenge = challenges.create_challenge(
            db, title="bench", challenger="staker", payment_asset=eth.code
        )
        challenges.activate_challenge(db, challenge.id)
        tx = contract.functions.stake(challenge.id, 1, "0x" + "00" * 20, 10**9).build_transaction(
            {
                "from": staker.address,
                "value": 10**9,
                "nonce": chain.w3.eth.get_transaction_count(staker.address),
            }
        )
        chain.w3.eth.send_raw_transaction(staker.sign_transaction(tx).raw_transaction)


def main() -> None:
    report: dict[str, object] = {
        "benchmark": "chain",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "transactions": TRANSACTIONS,
        "log_blocks": BLOCKS,
        "results": [],
    }
    with sqlite_url() as url:
        report["results"].append(bench(url))  # type: ignore[union-attr]
    admin_url = postgres_admin_url()
    if admin_url:
        with postgres_url(admin_url) as url:
            report["results"].append(bench(url))  # type: ignore[union-attr]
    else:
        report["postgresql"] = PG_SKIPPED
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
