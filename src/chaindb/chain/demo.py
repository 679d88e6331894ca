"""The chain bridge's part of `make demo`, on the embedded defaults (SQLite, eth-tester's
in-process EVM): a challenge staked on chain, resolved with an admin's EIP-712 signature,
confirmed, paid out in the ledger; then a reorg takes the resolution away, and the chain heals:
paid exactly once."""

from __future__ import annotations

import functools

from eth_account import Account
from eth_utils import keccak
from rich.console import Console
from rich.table import Table

from chaindb import challenges, core, ledger
from chaindb.chain.client import Chain, connect_chain
from chaindb.chain.escrow import deploy_escrow, escrow_contract, stake_on_chain
from chaindb.chain.events import ingest_escrow_events
from chaindb.chain.settlement import resolve_challenge_on_chain
from chaindb.chain.tracker import track
from chaindb.database import Database
from chaindb.errors import ChaindbError

ETH = 10**18
STAKES = {"alice": ("YES", 1 * ETH), "bob": ("NO", 2 * ETH)}


@functools.cache
def demo_chain() -> Chain:
    """The in-process chain the stories of `make demo` share, one per process: another module's
    story on a second one would be another chain with the same chain id, which the database's
    pin (chain.pins) rightly refuses."""
    return connect_chain()


def story(db: Database, console: Console) -> None:
    chain = demo_chain()
    _refuse_used_database(db, chain)
    say = console.print
    admin = Account.from_key(keccak(text="chaindb demo admin"))
    deployer = chain.funded_account(0)
    escrow = deploy_escrow(db, chain, deployer, admin_address=admin.address)
    say(
        f"[bold]in-process chain[/bold] {chain.chain_id}, finality after "
        f"{chain.confirmations_required} blocks"
    )
    say(f"ChallengeEscrow deployed at {escrow.contract_address} (ABI hash {escrow.abi_hash[:18]}…)")
    eth = ledger.ensure_token_asset(
        db, chain_id=chain.chain_id, token_address=None, symbol="ETH", decimals=18
    )
    players = {name: chain.funded_account(n + 1) for n, name in enumerate(STAKES)}
    for name, account in players.items():
        core.ensure_user(db, name, name)
        core.add_user_wallet(
            db, user_id=name, wallet_address=account.address, chain_id=chain.chain_id
        )
    challenge = challenges.create_challenge(
        db,
        title="ETH closes above $4,000 on Friday",
        challenger="alice",
        challenged="bob",
        payment_asset=eth.code,
        points_multiplier="1.50",
        blockchain_chain_id=chain.numeric_id,
    )
    challenges.activate_challenge(
        db, challenge.id, blockchain_contract_address=escrow.contract_address
    )
    say(f"\n[bold]Challenge {challenge.id}[/bold]: {challenge.title}")
    for name, (side, amount) in STAKES.items():
        stake_on_chain(
            db,
            chain,
            players[name],
            escrow_address=escrow.contract_address,
            challenge_id=challenge.id,
            side=side,
            amount=amount,
            user_id=name,
        )
        say(f"  {name} stakes {amount / ETH:g} ETH on {side} (on chain)")
    _settle(db, chain)
    records = challenges.get_escrow_records(db, challenge.id)
    say(
        f"  escrow records from the Staked events, once final: "
        f"{[(r.user_id, r.side, r.status) for r in records]}"
    )

    before_resolution = chain.w3.testing.snapshot()
    resolution = resolve_challenge_on_chain(
        db, chain, challenge_id=challenge.id, winning_side="YES", admin=admin, sender=deployer
    )
    say(
        f"  admin signed (EIP-712, verified: {resolution.signature.is_verified}); resolve() sent: "
        f"{resolution.transaction.transaction_hash[:18]}…"
    )
    _settle(db, chain)
    _show_money(
        db, eth.code, console, "resolution mined and final: escrow released, points awarded"
    )

    chain.w3.testing.revert(before_resolution)
    chain.tester.mine_blocks(chain.confirmations_required + 2, coinbase=chain.w3.eth.accounts[9])
    report = track(db, chain)
    say(
        f"\n[bold yellow]reorg injected[/bold yellow]: {report.reorged} transaction's block left "
        f"the chain; {report.effects_undone} effect undone by compensating transfers"
    )
    _show_money(db, eth.code, console, "after the reorg (stakes held again, nothing paid)")

    resolve_challenge_on_chain(
        db, chain, challenge_id=challenge.id, winning_side="YES", admin=admin, sender=deployer
    )
    _settle(db, chain)
    say("\n[bold green]healed[/bold green]: the same signed transaction, mined again")
    _show_money(db, eth.code, console, "final")
    on_chain = (
        escrow_contract(chain, escrow.contract_address)
        .functions.payoutOf(challenge.id, players["alice"].address)
        .call()
    )
    say(
        f"  the contract will pay alice {on_chain / ETH:g} ETH; the ledger credited "
        f"{ledger.get_balance(db, 'user:alice', eth.code).available / ETH:g} ETH"
    )
    _print_leaderboard(db, console)
    _print_tx_summary(db, console)
    check = ledger.check_ledger(db)
    say(
        f"ledger check: {'ok' if check.ok else check.problems()} "
        f"({check.accounts_checked} accounts match their transfers)"
    )


def _settle(db: Database, chain: Chain) -> None:
    """Mine to finality; let the tracker and the event ingestion catch up."""
    chain.tester.mine_blocks(chain.confirmations_required)
    track(db, chain)
    ingest_escrow_events(db, chain)


def _show_money(db: Database, asset: str, console: Console, title: str) -> None:
    parts = []
    for name in STAKES:
        balance = ledger.get_balance(db, f"user:{name}", asset)
        points = ledger.get_user_points_balance(db, name)
        parts.append(
            f"{name} {balance.available / ETH:g} ETH free, {balance.held / ETH:g} held, "
            f"{points} points"
        )
    console.print(f"  {title}: " + "; ".join(parts))


def _print_leaderboard(db: Database, console: Console) -> None:
    table = Table("rank", "user", "points", title="Leaderboard")
    for entry in ledger.leaderboard(db, limit=10):
        table.add_row(str(entry.rank), entry.username or entry.user_id, str(entry.balance))
    console.print(table)


def _print_tx_summary(db: Database, console: Console) -> None:
    table = Table("type", "status", "count", "gas", "value (ETH)", title="v_blockchain_tx_summary")
    for row in core.get_blockchain_tx_summary(db):
        table.add_row(
            row.transaction_type,
            row.status,
            str(row.tx_count),
            str(row.total_gas),
            f"{row.total_value / ETH:g}",
        )
    console.print(table)


def _refuse_used_database(db: Database, chain: Chain) -> None:
    """The in-process chain starts empty each run; a database that followed an earlier one
    would expect nonces and blocks this chain never had."""
    if core.find_blockchain_transactions(db, chain_id=chain.chain_id, limit=1):
        raise ChaindbError(
            "this database already followed an in-process chain: run the demo on a fresh "
            "database (make demo starts from a new ./chaindb.sqlite3)"
        )
