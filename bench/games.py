"""Games benchmark (JSON): bets placed per second against the ledger's own hold rate on the same
backend (target >= 0.8x), single and 1,000 to a batch; the resolution of a 1,000-bet game;
consensus votes verified and stored per second; on PostgreSQL, the leaderboard's top 100 at
1M players (target p99 <= 5 ms).

    scripts/with-postgres .venv/bin/python bench/games.py

Shorter runs while iterating: GAMES_BENCH_PARTS (throughput,leaderboard), GAMES_BENCH_BACKENDS
(sqlite,postgresql), GAMES_BENCH_TURNS (3), GAMES_BENCH_LEADERBOARD_PLAYERS (1,000,000).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable

from nacl.signing import SigningKey

import chaindb
from chaindb import games, ledger, migrations
from databases import PG_SKIPPED, postgres_admin_url, postgres_url, sqlite_url

PLAYERS = 100
SINGLES = 500
BATCH = 1_000
BATCHES = 3
RESOLVED_BETS = 1_000
VOTERS = 300
LEADERBOARD_PLAYERS = int(os.environ.get("GAMES_BENCH_LEADERBOARD_PLAYERS", "1000000"))
LATENCY_SAMPLES = 200
TURNS = int(os.environ.get("GAMES_BENCH_TURNS", "3"))
PARTS = os.environ.get("GAMES_BENCH_PARTS", "throughput,leaderboard").split(",")
BACKENDS = os.environ.get("GAMES_BENCH_BACKENDS", "sqlite,postgresql").split(",")


def setup(url: str) -> chaindb.Database:
    db = chaindb.connect(url)
    migrations.migrate(db)
    for n in range(PLAYERS):
        games.create_user(db, f"p{n}", f"p{n}", bytes(SigningKey.generate().verify_key))
        games.deposit(db, user_id=f"p{n}", amount=10**15)
    games.fund_pool(db, pool="house", amount=10**18)
    return db


def per_second(count: int, action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return round(count / (time.perf_counter() - started), 1)


def ledger_holds_single(db: chaindb.Database) -> float:
    def run() -> None:
        for n in range(SINGLES):
            ledger.transfer(db, debit=f"user:p{n % PLAYERS}", credit=games.HOUSE, amount=1,
                            kind="locked_escrow", asset=games.CRAP, pending=True)  # fmt: skip

    return per_second(SINGLES, run)


def ledger_holds_batch(db: chaindb.Database) -> float:
    def run() -> None:
        for _ in range(BATCHES):
            ledger.transfer_batch(db, [
                {"debit": f"user:p{n % PLAYERS}", "credit": games.HOUSE, "amount": 1,
                 "kind": "locked_escrow", "asset": games.CRAP, "pending": True}
                for n in range(BATCH)
            ])  # fmt: skip

    return per_second(BATCHES * BATCH, run)


def bets_single(db: chaindb.Database) -> float:
    game = games.create_game(db).id

    def run() -> None:
        for n in range(SINGLES):
            games.place_bet(db, game_id=game, player_id=f"p{n % PLAYERS}", bet_type="field",
                            amount=1)  # fmt: skip

    return per_second(SINGLES, run)


def bets_batch(db: chaindb.Database) -> float:
    game = games.create_game(db).id

    def run() -> None:
        for _ in range(BATCHES):
            games.place_bets(db, [
                {"game_id": game, "player_id": f"p{n % PLAYERS}", "bet_type": "field",
                 "amount": 1, "bet_id": uuid.uuid4().bytes}
                for n in range(BATCH)
            ])  # fmt: skip

    return per_second(BATCHES * BATCH, run)


def resolution_ms(db: chaindb.Database) -> float:
    game = games.create_game(db).id
    games.place_bets(db, [
        {"game_id": game, "player_id": f"p{n % PLAYERS}", "bet_type": ("pass", "dont_pass")[n % 2],
         "amount": 10 + n, "bet_id": uuid.uuid4().bytes}
        for n in range(RESOLVED_BETS)
    ])  # fmt: skip
    started = time.perf_counter()
    result = games.roll_dice(db, game_id=game, die1=3, die2=4)
    taken = (time.perf_counter() - started) * 1000
    assert len(result.settlement.outcomes) == RESOLVED_BETS
    return round(taken, 1)


def votes_per_second(db: chaindb.Database) -> float:
    keys = {f"v{n}": SigningKey.generate() for n in range(VOTERS)}
    for name, key in keys.items():
        games.create_user(db, name, name, bytes(key.verify_key))
    proposal = bytes(range(32))
    number = games.open_round(db, proposer_id="v0", proposal_hash=proposal,
                              participants=list(keys)).round_number  # fmt: skip
    message = games.vote_message(number, proposal)
    signatures = {name: key.sign(message).signature for name, key in keys.items()}

    def run() -> None:
        for name, signature in signatures.items():
            games.cast_vote(db, round_number=number, voter_id=name, signature=signature)

    return per_second(VOTERS, run)


def throughput(url: str) -> dict[str, object]:
    db = setup(url)
    turns: dict[str, list[float]] = {"ledger_hold_single": [], "bet_single": [],
                                     "ledger_hold_batch": [], "bet_batch": []}  # fmt: skip
    for turn in range(TURNS):  # the compared approaches back to back, first one alternating
        pairs = [("ledger_hold_single", ledger_holds_single), ("bet_single", bets_single)]
        pairs += [("ledger_hold_batch", ledger_holds_batch), ("bet_batch", bets_batch)]
        for name, action in pairs if turn % 2 == 0 else pairs[::-1]:
            turns[name].append(action(db))
    rates = {name: statistics.median(values) for name, values in turns.items()}
    report = {
        "per_second": rates,
        "bet_single_vs_ledger_hold (target >= 0.8)": round(
            rates["bet_single"] / rates["ledger_hold_single"], 2
        ),
        "bet_batch_vs_ledger_batch (target >= 0.8)": round(
            rates["bet_batch"] / rates["ledger_hold_batch"], 2
        ),
        "resolution_of_1000_bets_ms": resolution_ms(db),
        "votes_verified_and_stored_per_second": votes_per_second(db),
    }
    db.close()
    return report


def leaderboard_at_scale(url: str) -> dict[str, object]:
    """PostgreSQL: 1M players' stats written in SQL, then the top 100 timed."""
    os.environ["CHAINDB_STATEMENT_TIMEOUT_S"] = "900"
    db = chaindb.connect(url)
    migrations.migrate(db)
    with db.transaction() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO users (id, username) SELECT 'lb' || g, 'player ' || g "
            f"FROM generate_series(1, {LEADERBOARD_PLAYERS}) g"
        )
        conn.exec_driver_sql(
            "INSERT INTO player_stats (user_id, games_played, games_won, total_winnings)"
            " SELECT 'lb' || g, 10, floor(random() * 10), floor(random() * 1e12)"
            f" FROM generate_series(1, {LEADERBOARD_PLAYERS}) g"
        )
    with db.connection() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    report = {
        "players": LEADERBOARD_PLAYERS,
        "top_100_by_winnings": latencies(lambda: games.leaderboard(db, by="winnings", limit=100)),
        "top_100_by_games_won": latencies(lambda: games.leaderboard(db, by="games_won", limit=100)),
    }
    db.close()
    return report


def latencies(action: Callable[[], object]) -> dict[str, float]:
    action()
    taken = []
    for _ in range(LATENCY_SAMPLES):
        started = time.perf_counter()
        action()
        taken.append((time.perf_counter() - started) * 1000)
    taken.sort()
    return {
        "p50_ms": round(statistics.median(taken), 3),
        "p99_ms": round(taken[int(len(taken) * 0.99) - 1], 3),
        "samples": LATENCY_SAMPLES,
    }


def main() -> None:
    os.environ["CHAINDB_SQLITE_SYNCHRONOUS"] = "FULL"
    report: dict[str, object] = {
        "benchmark": "games",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "players": PLAYERS,
        "batch_size": BATCH,
        "load_average_at_start": os.getloadavg(),  # a shared machine: how busy it was
    }
    if "sqlite" in BACKENDS and "throughput" in PARTS:
        with sqlite_url() as url:
            report["sqlite"] = throughput(url)
    admin_url = postgres_admin_url()
    if "postgresql" not in BACKENDS:
        pass
    elif admin_url:
        postgres: dict[str, object] = {}
        if "throughput" in PARTS:
            with postgres_url(admin_url) as url:
                postgres |= throughput(url)
        if "leaderboard" in PARTS:
            with postgres_url(admin_url) as url:
                postgres["leaderboard"] = leaderboard_at_scale(url)
        report["postgresql"] = postgres
    else:
        report["postgresql"] = PG_SKIPPED
    report["load_average_at_end"] = os.getloadavg()
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
