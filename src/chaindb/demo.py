"""The story `make demo` tells: a challenge staked in USDC, resolved, paid, and ranked."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from chaindb import challenges, core, ledger
from chaindb.database import Database

USDC_BASE_SEPOLIA = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
BASE_SEPOLIA = 84532
USDC = 10**6  # 6 decimals
PLAYERS = {
    "alice": ("YES", 25 * USDC, "0x742d35cc6634c0532925a3b844bc454e4438f44e"),
    "bob": ("NO", 40 * USDC, "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"),
    "carol": ("YES", 15 * USDC, "0xdbf03b407c01e7cd3cbea99509d93f8dddc8c6fb"),
}


def run_demo(db: Database, console: Console) -> None:
    usdc = ledger.ensure_token_asset(
        db, chain_id=BASE_SEPOLIA, token_address=USDC_BASE_SEPOLIA, symbol="USDC", decimals=6
    )
    for user_id, (_side, _stake, wallet) in PLAYERS.items():
        core.ensure_user(db, user_id, user_id)
        if not core.get_user_wallets(db, user_id, BASE_SEPOLIA):
            core.add_user_wallet(db, user_id=user_id, wallet_address=wallet, chain_id=BASE_SEPOLIA)
    challenge = challenges.create_challenge(
        db,
        title="ETH closes above $4,000 on Friday",
        challenger="alice",
        challenged="bob",
        amount=25,
        payment_asset=usdc.code,
        payment_token_address=USDC_BASE_SEPOLIA,
        points_multiplier="1.50",
        blockchain_chain_id=BASE_SEPOLIA,
    )
    challenges.activate_challenge(db, challenge.id, blockchain_chain_id=BASE_SEPOLIA)
    console.print(f"\n[bold]Challenge {challenge.id}[/bold]: {challenge.title}")
    for user_id, (side, stake, _wallet) in PLAYERS.items():
        challenges.create_escrow_record(
            db, challenge_id=challenge.id, user_id=user_id, side=side, amount_escrowed=stake
        )
        console.print(f"  {user_id} stakes {stake / USDC:.2f} USDC on {side}")
    pending = challenges.get_challenges_pending_resolution(db)
    console.print(
        f"  pending resolution: {[(p.id, p.yes_participants, p.no_participants) for p in pending]}"
    )
    settlement = challenges.resolve_challenge(db, challenge.id, winning_side="YES", base_points=100)
    console.print("  resolved: YES wins")
    for user_id, amount in settlement.payouts.items():
        points = settlement.points[user_id]
        console.print(f"  {user_id} is paid {amount / USDC:.6f} USDC and earns {points} points")
    again = challenges.resolve_challenge(db, challenge.id, winning_side="YES")
    console.print(f"  resolving again pays nothing more: {again.payouts == settlement.payouts}")
    _print_leaderboard(db, console)
    report = ledger.check_ledger(db)
    console.print(
        f"\nledger check: {'ok' if report.ok else report.problems()} "
        f"({report.accounts_checked} accounts match their transfers)"
    )


def _print_leaderboard(db: Database, console: Console) -> None:
    table = Table("rank", "user", "points", title="Leaderboard")
    for entry in ledger.leaderboard(db, limit=10):
        table.add_row(str(entry.rank), entry.username or entry.user_id, str(entry.balance))
    console.print(table)
