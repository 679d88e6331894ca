"""The creators' part of `make demo` (seed 004): a creator's plays counted at volume, once per
client id; the followers and plays milestones reached; the metrics synced to the CreatorOracle
contract on the in-process EVM the chain bridge's story runs on, and the creator coin created."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from chaindb import chain, core
from chaindb.creators.dashboard import creator_dashboard
from chaindb.creators.milestones import COIN_FOLLOWERS_MIN, COIN_PLAYS_MIN
from chaindb.creators.oracle import deploy_oracle, on_chain_metrics, sync_once
from chaindb.creators.plays import record_plays
from chaindb.creators.profiles import create_creator, follow_many, get_creator
from chaindb.creators.sync_stats import get_sync_stats
from chaindb.creators.tracks import create_track
from chaindb.database import Database

PLAYS_PER_BATCH = 5_000
PLAYS_DAYS = 14  # the plays spread over the last two weeks: the studio's charts have days to show
ORACLE_ACCOUNT = 5  # of the in-process chain's funded accounts (the chain story uses 0-2)
CIDS = (
    "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq",
)


def story(db: Database, console: Console) -> None:
    say = console.print
    node = chain.demo_chain()
    say("\n[bold]Creators[/bold] (seed 004): plays at volume, milestones, the oracle sync")
    core.ensure_user(db, "mira", "Mira")
    mira = create_creator(db, user_id="mira", stage_name="Mira", genres=["ambient"])
    tracks = [
        create_track(db, creator_id=mira.id, title=title, duration_s=210, file_cid=cid)
        for title, cid in zip(("Tidal", "Drift"), CIDS, strict=True)
    ]
    fans = [f"fan{n}" for n in range(COIN_FOLLOWERS_MIN)]
    with db.transaction() as conn:
        for fan in fans:
            core.ensure_user(conn, fan)
    follow_many(db, creator_id=mira.id, follower_ids=fans)
    recorded = duplicates = 0
    first_day = datetime.now(UTC) - timedelta(days=PLAYS_DAYS)
    for start in range(0, COIN_PLAYS_MIN, PLAYS_PER_BATCH):
        batch = [
            {
                "track_id": tracks[n % 2].id,
                "client_id": f"play-{n}",
                "played_at": first_day + timedelta(days=n * PLAYS_DAYS / COIN_PLAYS_MIN),
                "listened_s": 30 + n % 180,
                "user_id": fans[n % len(fans)],
                "source": "playlist" if n % 3 else "search",
            }
            for n in range(start, start + PLAYS_PER_BATCH)
        ]
        batch += batch[:100]  # a client resending: counted once
        result = record_plays(db, batch)
        recorded, duplicates = recorded + result.recorded, duplicates + result.duplicates
    board = creator_dashboard(db, mira.id)
    say(
        f"  {recorded:,} plays recorded in batches of {PLAYS_PER_BATCH:,} ({duplicates} resent "
        f"client ids counted once); {mira.stage_name}: {board.creator.total_plays:,} plays, "
        f"{board.creator.follower_count:,} followers, engagement {board.engagement.score}"
    )
    for milestone in board.milestones:
        say(f"  milestone reached: {milestone.description}")
    say(f"  creator coin: {board.creator.coin_status}")

    oracle_key = node.funded_account(ORACLE_ACCOUNT)
    oracle = deploy_oracle(db, node, oracle_key)
    say(f"  CreatorOracle deployed at {oracle}")
    for step in ("metrics sent", "metrics final; coin requested", "coin final"):
        report = sync_once(db, node, sender=oracle_key)
        say(f"  oracle pass ({step}): {report}")
        node.tester.mine_blocks(node.confirmations_required)
    report = sync_once(db, node, sender=oracle_key)
    creator = get_creator(db, mira.id)
    held = on_chain_metrics(node, oracle, mira.id)
    _print_sync(console, creator, held)
    say(
        f"  metrics synced on chain: {held['total_plays']:,} plays, {held['followers']:,} "
        f"followers (the database: {creator.total_plays:,}, {creator.follower_count:,}); "
        f"coin {creator.coin_symbol} {creator.coin_status} at {creator.coin_address}"
    )
    stats = get_sync_stats(db, 1)
    say(f"  sync health: {stats.health} ({stats.succeeded} succeeded, {stats.failed} failed)")


def _print_sync(console: Console, creator: object, held: dict[str, int]) -> None:
    table = Table("metric", "database", "CreatorOracle", title="Synced creator metrics")
    for name, value in (
        ("total plays", creator.total_plays),
        ("followers", creator.follower_count),
        ("sequence", creator.synced_sequence),
    ):
        key = {"total plays": "total_plays"}.get(name, name)
        table.add_row(name, f"{value:,}", f"{held[key]:,}")
    console.print(table)
