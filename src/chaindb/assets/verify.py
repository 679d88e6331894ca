"""What `chaindb maintenance --check` asks of the assets module."""

from __future__ import annotations

import sqlalchemy as sa

from chaindb.assets.schema import memory_assets, merkle_trees, minting_queue
from chaindb.database import Database


def verify(db: Database) -> list[str]:
    """Every asset's and job's leaf lies below its tree's next_leaf_index (the allocator's
    counter), and no tree holds more assets than leaves it gave out. One grouped read per
    table (indexes uq_memory_assets_leaf, uq_minting_queue_leaf)."""
    problems = []
    with db.read() as conn:
        trees = {
            row.tree_address: row.next_leaf_index
            for row in conn.execute(
                sa.select(merkle_trees.c.tree_address, merkle_trees.c.next_leaf_index)
            )
        }
        for table, kind in ((memory_assets, "asset"), (minting_queue, "job")):
            rows = conn.execute(
                sa.select(table.c.merkle_tree, sa.func.max(table.c.leaf_index), sa.func.count())
                .where(table.c.merkle_tree.is_not(None))
                .group_by(table.c.merkle_tree)
            )
            for tree, highest, count in rows:
                given = trees.get(tree, 0)
                if highest >= given or count > given:
                    problems.append(
                        f"assets: tree {tree} gave out {given} leaves but a {kind} holds leaf "
                        f"{highest} ({count} {kind}s in it)"
                    )
    return problems
