"""Concurrent merkle trees: registered with a shape Solana accepts, their leaves handed out
atomically, each (tree, leaf index) once, never past a tree's capacity of 2**max_depth."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from pydantic import Field, model_validator
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb.assets.records import NewCost, audit, insert_costs
from chaindb.assets.schema import TREE_SHAPES, merkle_trees
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict
from chaindb.types import Lamports, SolanaAddress, SolanaSignature, utc_now
from chaindb.validation import Input, Row, validated

# Bubblegum refuses a canopy shallower than depth - 17 (proofs must fit a transaction).
BUBBLEGUM_PROOF_DEPTH_MAX = 17
# A batch's leaves come from at most this many trees (each step fills one tree's remainder).
TREES_PER_ALLOCATION_MAX = 64
VALID_SHAPES = {(d, b) for depths, buffers in TREE_SHAPES for d in depths for b in buffers}


class NewTree(Input):
    tree_address: SolanaAddress
    authority_address: SolanaAddress
    max_depth: Annotated[int, Field(strict=True, ge=3, le=30)]
    max_buffer_size: Annotated[int, Field(strict=True, ge=8, le=2048)]
    canopy_depth: Annotated[int, Field(strict=True, ge=0, le=30)] = 0
    creation_signature: SolanaSignature | None = None
    creation_cost_lamports: Lamports = 0

    @model_validator(mode="after")
    def _shape(self) -> NewTree:
        if (self.max_depth, self.max_buffer_size) not in VALID_SHAPES:
            pairs = ", ".join(f"({d}, {b})" for d, b in sorted(VALID_SHAPES))
            raise ValueError(
                f"max_depth {self.max_depth} with max_buffer_size {self.max_buffer_size} is not "
                f"a shape Solana's concurrent merkle tree accepts: {pairs}"
            )
        if self.canopy_depth > self.max_depth:
            raise ValueError("canopy_depth must be at most max_depth")
        if self.canopy_depth < self.max_depth - BUBBLEGUM_PROOF_DEPTH_MAX:
            raise ValueError(
                f"canopy_depth must be at least max_depth - {BUBBLEGUM_PROOF_DEPTH_MAX} "
                f"({self.max_depth - BUBBLEGUM_PROOF_DEPTH_MAX}) for Bubblegum"
            )
        return self


class MerkleTree(Row):
    tree_address: str
    max_depth: int
    max_buffer_size: int
    canopy_depth: int
    capacity: int
    next_leaf_index: int
    authority_address: str
    creation_signature: str | None
    creation_cost_lamports: int
    status: str
    created_at: datetime
    updated_at: datetime

    @property
    def leaves_left(self) -> int:
        return self.capacity - self.next_leaf_index

    @property
    def fill_ratio(self) -> float:
        return self.next_leaf_index / self.capacity


def register_tree(
    target: Database | Connection,
    *,
    tree_address: str,
    authority_address: str,
    max_depth: int,
    max_buffer_size: int,
    canopy_depth: int = 0,
    creation_signature: str | None = None,
    creation_cost_lamports: int = 0,
) -> MerkleTree:
    """A tree leaves may be allocated from (capacity 2**max_depth). Its creation cost is
    tracked against the authority."""
    tree = validated(
        NewTree,
        tree_address=tree_address,
        authority_address=authority_address,
        max_depth=max_depth,
        max_buffer_size=max_buffer_size,
        canopy_depth=canopy_depth,
        creation_signature=creation_signature,
        creation_cost_lamports=creation_cost_lamports,
    )
    now = utc_now()
    try:
        with writing(target) as conn:
            row = conn.execute(
                merkle_trees.insert()
                .values(
                    **tree.model_dump(), capacity=2**tree.max_depth, created_at=now, updated_at=now
                )
                .returning(merkle_trees)
            ).one()
            insert_costs(
                conn,
                [
                    NewCost(
                        wallet_address=tree.authority_address,
                        operation="create_tree",
                        rent_lamports=tree.creation_cost_lamports,
                    )
                ],
            )
            audit(
                conn,
                "register_tree",
                wallet_address=tree.authority_address,
                transaction_signature=tree.creation_signature,
                details={"tree": tree.tree_address, "max_depth": tree.max_depth},
            )
    except IntegrityError:
        raise Conflict(f"tree_address: tree {tree_address} is already registered") from None
    return MerkleTree.model_validate(row)


def list_trees(target: Database | Connection) -> list[MerkleTree]:
    """Every tree, oldest first (the order leaves are allocated in), with its fill level."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(merkle_trees).order_by(merkle_trees.c.created_at, merkle_trees.c.tree_address)
        )
        return [MerkleTree.model_validate(row) for row in rows]


def allocate_leaves(conn: Connection, count: int) -> list[tuple[str, int]]:
    """Up to `count` (tree, leaf index) pairs, from the oldest active trees with room, in the
    caller's transaction; fewer when the trees are full. Each step locks the first tree with
    room (PostgreSQL: FOR NO KEY UPDATE, re-checked after a concurrent allocator's commit; SQLite
    writes one transaction at a time), takes what it needs or what is left, and moves its
    next_leaf_index past them, guarded by the value it read. A CHECK keeps next_leaf_index
    within capacity: no leaf is given twice, none past 2**max_depth."""
    leaves: list[tuple[str, int]] = []
    for _step in range(TREES_PER_ALLOCATION_MAX):
        wanted = count - len(leaves)
        if wanted == 0:
            break
        # NO KEY UPDATE: the FK checks of rows naming the tree (FOR KEY SHARE: a batch being
        # completed) need not wait for an allocation.
        tree = conn.execute(_first_with_room().with_for_update(key_share=True)).first()
        if tree is None:
            if conn.execute(_first_with_room()).first() is None:
                break  # every tree is full
            continue  # the tree we waited for filled up meanwhile: the next one
        take = min(wanted, tree.capacity - tree.next_leaf_index)
        moved = conn.execute(
            merkle_trees.update()
            .where(
                merkle_trees.c.tree_address == tree.tree_address,
                merkle_trees.c.next_leaf_index == tree.next_leaf_index,
            )
            .values(next_leaf_index=tree.next_leaf_index + take, updated_at=utc_now())
        )
        if moved.rowcount == 1:
            start = tree.next_leaf_index
            leaves += [(tree.tree_address, index) for index in range(start, start + take)]
    return leaves


def _first_with_room() -> sa.Select:
    """The oldest active tree with a leaf left (index ix_merkle_trees_status_created)."""
    return (
        sa.select(
            merkle_trees.c.tree_address, merkle_trees.c.capacity, merkle_trees.c.next_leaf_index
        )
        .where(
            merkle_trees.c.status == "active",
            merkle_trees.c.next_leaf_index < merkle_trees.c.capacity,
        )
        .order_by(merkle_trees.c.created_at, merkle_trees.c.tree_address)
        .limit(1)
    )


def leaves_left(target: Database | Connection) -> int:
    """Leaves still free in the active trees."""
    with reading(target) as conn:
        return int(
            conn.execute(
                sa.select(
                    sa.func.coalesce(
                        sa.func.sum(merkle_trees.c.capacity - merkle_trees.c.next_leaf_index), 0
                    )
                ).where(merkle_trees.c.status == "active")
            ).scalar_one()
        )
