"""Tokens: create, read, list with their creators, and issue the supply into the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from pydantic import AfterValidator, Field
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb import core, ledger
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.text import Description, free_text, identifier, spelled
from chaindb.tokens.chain_status import chain_transaction, insert_transaction, status_of
from chaindb.tokens.networks import parse_contract, parse_network, parse_network_tx_hash
from chaindb.tokens.schema import (
    ICON_URL_CHARS_MAX,
    NAME_CHARS_MAX,
    SYMBOL_CHARS_MAX,
    tokens,
)
from chaindb.types import EVM_NAMESPACE, Amount, RowId, UserId
from chaindb.validation import Input, Row, parse_limit, validated

LIST_LIMIT_MAX = 1000
SUPPLY_KEY = "tokens:{token_id}:supply"  # the ledger idempotency key of a token's issuance


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Name = Annotated[identifier(NAME_CHARS_MAX), AfterValidator(_not_blank)]
Symbol = spelled(
    rf"^[A-Za-z0-9]{{1,{SYMBOL_CHARS_MAX}}}$",
    f"must be 1 to {SYMBOL_CHARS_MAX} ASCII letters or digits",
)
IconUrl = Annotated[
    free_text(ICON_URL_CHARS_MAX),
    Field(pattern=r"^(https?|ipfs|ar)://\S+$"),
]


def _positive(value: int) -> int:
    if value == 0:
        raise ValueError("must be greater than 0")
    return value


class NewToken(Input):
    name: Name
    symbol: Symbol
    supply: Annotated[Amount, AfterValidator(_positive)]
    decimals: Annotated[int, Field(strict=True, ge=0, le=77)] = 0
    creator_id: UserId
    description: Description | None = None
    icon_url: IconUrl | None = None


class Token(Row):
    id: int
    name: str
    symbol: str
    supply: int
    decimals: int
    creator_id: str
    description: str | None
    icon_url: str | None
    contract_address: str | None
    network_id: str
    tx_hash: str | None
    status: str
    creation_tx_id: int | None
    asset_id: int | None
    created_at: datetime
    updated_at: datetime


class Creator(Row):
    """Seed 003's user: its id, username and wallet (its primary on the token's network)."""

    id: str
    username: str | None
    wallet_address: str | None


class TokenWithCreator(Token):
    creator: Creator


def create_token(
    target: Database | Connection,
    *,
    name: str,
    symbol: str,
    supply: int | str,
    creator_id: str,
    network_id: str,
    decimals: int = 0,
    description: str | None = None,
    icon_url: str | None = None,
    contract_address: str | None = None,
    tx_hash: str | None = None,
) -> Token:
    """A token, pending until its creation transaction (`tx_hash`, logged in core) is final.
    `supply` is exact, in base units (the seed's text: an int or a string of digits); its
    balances live in a ledger asset made with it. With `tx_hash`, its 'create' transaction is
    recorded too. One database transaction: on any refusal nothing is written."""
    new = validated(
        NewToken,
        name=name,
        symbol=symbol,
        supply=supply,
        decimals=decimals,
        creator_id=creator_id,
        description=description,
        icon_url=icon_url,
    )
    network = parse_network(network_id)
    contract = None if contract_address is None else parse_contract(contract_address, network)
    tx = None if tx_hash is None else parse_network_tx_hash(tx_hash, network)
    try:
        with writing(target) as conn:
            core.require_user(conn, new.creator_id, "creator_id")
            chain_tx = None
            if tx is not None:
                chain_tx = chain_transaction(conn, network, tx, new.creator_id, "create")
            row = conn.execute(
                tokens.insert()
                .values(
                    **new.model_dump(),
                    network_id=network,
                    contract_address=contract,
                    tx_hash=tx,
                    creation_tx_id=None if chain_tx is None else chain_tx.id,
                    status="pending" if chain_tx is None else status_of(chain_tx),
                )
                .returning(tokens)
            ).one()
            token = _with_asset(conn, Token.model_validate(row))
            if chain_tx is not None:
                insert_transaction(
                    conn, chain_tx, user_id=new.creator_id, token_id=token.id, tx_type="create"
                )
    except IntegrityError as error:
        raise Conflict(f"token refused by the database: {error.orig}") from None
    return token


def _with_asset(conn: Connection, token: Token) -> Token:
    """The token's ledger asset: its ERC-20 on an EVM chain, else an asset of its own."""
    if token.contract_address and token.network_id.startswith(EVM_NAMESPACE + ":"):
        asset = ledger.ensure_token_asset(
            conn,
            chain_id=token.network_id,
            token_address=token.contract_address,
            symbol=token.symbol,
            decimals=token.decimals,
        )
    else:
        asset = ledger.ensure_app_asset(
            conn, code=f"tokens/{token.id}", symbol=token.symbol, decimals=token.decimals
        )
    row = conn.execute(
        tokens.update().where(tokens.c.id == token.id).values(asset_id=asset.id).returning(tokens)
    ).one()
    return Token.model_validate(row)


def get_token(target: Database | Connection, token_id: int) -> Token | None:
    token_id = validated(_TokenId, token_id=token_id).token_id
    with reading(target) as conn:
        row = conn.execute(sa.select(tokens).where(tokens.c.id == token_id)).first()
    return None if row is None else Token.model_validate(row)


def require_token(conn: Connection, token_id: int, *, for_update: bool = False) -> Token:
    query = sa.select(tokens).where(tokens.c.id == token_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(f"token_id: token {token_id} does not exist")
    return Token.model_validate(row)


class _TokenId(Input):
    token_id: RowId


class _ListQuery(Input):
    creator_id: UserId | None = None
    before_id: RowId | None = None


def list_tokens(
    target: Database | Connection,
    *,
    creator_id: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[TokenWithCreator]:
    """Seed 003's getTokensWithCreators: tokens newest first, each with its creator (username,
    and wallet on the token's network). By creator it reads idx_tokens_creator_id; a next page
    starts `before_id` (the last id seen). Creators come in one read per network of the page."""
    query_args = validated(_ListQuery, creator_id=creator_id, before_id=before_id)
    limit = parse_limit(limit, LIST_LIMIT_MAX)
    query = sa.select(tokens).order_by(tokens.c.id.desc()).limit(limit)
    if query_args.creator_id is not None:
        query = query.where(tokens.c.creator_id == query_args.creator_id)
    if query_args.before_id is not None:
        query = query.where(tokens.c.id < query_args.before_id)
    with reading(target) as conn:
        page = [Token.model_validate(row) for row in conn.execute(query)]
        creators = sorted({token.creator_id for token in page})
        usernames = core.get_usernames(conn, creators)
        wallets = {
            network: core.get_primary_wallets(conn, user_ids=creators, chain_id=network)
            for network in {token.network_id for token in page}
        }
    return [
        TokenWithCreator(
            **token.model_dump(),
            creator=Creator(
                id=token.creator_id,
                username=usernames.get(token.creator_id),
                wallet_address=getattr(
                    wallets[token.network_id].get(token.creator_id), "wallet_address", None
                ),
            ),
        )
        for token in page
    ]


def issue_supply(target: Database | Connection, token_id: int) -> ledger.Transfer:
    """Credit the creator with the whole supply, in the token's ledger asset, once the token is
    confirmed. Once: the ledger's idempotency key makes a second call return the first."""
    token_id = validated(_TokenId, token_id=token_id).token_id
    with writing(target) as conn:
        token = require_token(conn, token_id)
        if token.status != "confirmed":
            raise Conflict(
                f"token_id: token {token_id} is {token.status}: its supply is issued once its "
                "creation transaction is confirmed"
            )
        if token.asset_id is None:
            raise InvalidInput("token_id", token_id, "the token has no ledger asset")
        asset = ledger.get_asset(conn, asset_id=token.asset_id)
        return ledger.transfer(
            conn,
            debit=f"system:{ledger.ISSUANCE}",
            credit=f"user:{token.creator_id}",
            amount=token.supply,
            asset=asset.code,
            kind="deposit",
            idempotency_key=SUPPLY_KEY.format(token_id=token_id),
            reason=f"supply of {token.symbol}",
        )
