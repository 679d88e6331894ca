"""Tokens (seed 003): created with an exact supply, their status following their creation
transaction, refused whole on bad input, listed with their creators."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chaindb import Conflict, InvalidInput, NotFound, core, ledger, tokens
from chaindb.networks import CKB_TESTNET
from chaindb.types import UINT256_MAX
from tests.tokens.addresses import EVM, ckb_user

TX = "0x" + "c0" * 32
TYPE_HASH = "0x" + "ab" * 32


@pytest.fixture
def sita(core_db):
    """A CKB testnet user, made from its wallet as the seed's users are."""
    return core.ensure_wallet_user(
        core_db, wallet_address=ckb_user(1), chain_id=CKB_TESTNET, username="sita"
    ).user_id


def new_token(db, creator, **overrides):
    values = {
        "name": "SiTa",
        "symbol": "SITA",
        "supply": 21_000_000,
        "creator_id": creator,
        "network_id": "testnet",
        "tx_hash": TX,
    }
    return tokens.create_token(db, **{**values, **overrides})


def count(db, table):
    with db.read() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def test_a_token_is_pending_until_its_creation_transaction_is_final(core_db, sita):
    token = new_token(core_db, sita)
    assert (token.status, token.network_id, token.tx_hash) == ("pending", CKB_TESTNET, TX)
    [create] = tokens.get_recent_transactions(core_db, sita)
    assert (create.tx_type, create.token_id, create.status) == ("create", token.id, "pending")
    tokens.record_transaction_outcome(
        core_db, network_id=CKB_TESTNET, tx_hash=TX, outcome="confirmed", block_number=7
    )
    assert tokens.get_token(core_db, token.id).status == "confirmed"
    assert tokens.get_recent_transactions(core_db, sita)[0].status == "confirmed"
    assert tokens.verify(core_db) == []


def test_a_transaction_that_never_made_it_fails_its_token(core_db, sita):
    token = new_token(core_db, sita)
    [row] = tokens.record_transaction_outcome(
        core_db, network_id=CKB_TESTNET, tx_hash=TX, outcome="failed"
    )
    assert (row.status, tokens.get_token(core_db, token.id).status) == ("failed", "failed")
    assert core.get_blockchain_transaction(core_db, TX, CKB_TESTNET).status == "dropped"


@pytest.mark.parametrize(
    ("status", "block", "final", "expected"),
    [
        ("pending", None, False, "pending"),
        ("success", 5, False, "pending"),
        ("success", 5, True, "confirmed"),
        ("failed", 5, False, "pending"),
        ("failed", 5, True, "failed"),
        ("dropped", None, False, "failed"),
    ],
)
def test_the_database_and_the_code_derive_the_same_status(
    core_db, sita, status, block, final, expected
):
    """The trigger (SQL) and tokens.status_of (Python) say the same for every chain state."""
    token = new_token(core_db, sita)
    chain_tx = core.update_blockchain_transaction_status(
        core_db, TX, status, chain_id=CKB_TESTNET, block_number=block
    )
    if final:
        core.set_confirmations(core_db, chain_tx.id, 1, final=True)
    chain_tx = core.get_blockchain_transaction(core_db, TX, CKB_TESTNET)
    assert tokens.status_of(chain_tx) == expected
    assert tokens.get_token(core_db, token.id).status == expected
    assert tokens.get_recent_transactions(core_db, sita)[0].status == expected


def test_a_reorg_sends_a_confirmed_token_back_to_pending(core_db, sita):
    token = new_token(core_db, sita)
    tokens.record_transaction_outcome(
        core_db, network_id=CKB_TESTNET, tx_hash=TX, outcome="confirmed", block_number=9
    )
    core.update_blockchain_transaction_status(core_db, TX, "pending", chain_id=CKB_TESTNET)
    assert tokens.get_token(core_db, token.id).status == "pending"
    assert tokens.verify(core_db) == []


@pytest.mark.parametrize("supply", [1, 2**63 + 1, UINT256_MAX, str(UINT256_MAX)])
def test_the_supply_is_exact(core_db, sita, supply):
    token = new_token(core_db, sita, supply=supply)
    assert tokens.get_token(core_db, token.id).supply == int(supply)


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("supply", 0, "greater than 0"),
        ("supply", -1, ">= 0"),
        ("supply", UINT256_MAX + 1, r"2\*\*256 - 1"),
        ("supply", 1.5, "not a float"),
        ("supply", "1e18", "non-negative integer"),
        ("symbol", "SI TA", "ASCII letters or digits"),
        ("symbol", "S" * 17, "1 to 16"),
        ("name", "   ", "blank"),
        ("name", "a\x00b", "control characters"),
        ("network_id", "bip122:000000000019d6689c085ae165831e93", "tokens live on"),
        ("network_id", "devnet", "CAIP-2"),
        ("tx_hash", "0x1234", "0x followed by 64 hex"),
        ("contract_address", EVM, "type script hash"),
        ("icon_url", "javascript:alert(1)", "match pattern"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    core_db, sita, field, value, rule
):
    with pytest.raises(InvalidInput, match=rule) as refused:
        new_token(core_db, sita, **{field: value})
    assert refused.value.field == field
    assert (count(core_db, "tokens"), count(core_db, "transactions")) == (0, 0)
    assert count(core_db, "blockchain_transactions") == 0


def test_an_unknown_creator_is_refused_and_nothing_is_written(core_db):
    with pytest.raises(NotFound, match="creator_id: user 'nobody' does not exist"):
        new_token(core_db, "nobody")
    assert (count(core_db, "tokens"), count(core_db, "blockchain_transactions")) == (0, 0)


def test_an_evm_token_takes_an_evm_contract_and_its_erc20_asset(core_db, sita):
    token = new_token(core_db, sita, network_id=84532, contract_address=EVM, tx_hash=None)
    asset = ledger.get_asset(core_db, asset_id=token.asset_id)
    assert (asset.kind, asset.token_address) == ("token", EVM)
    with pytest.raises(Conflict):
        new_token(core_db, sita, network_id=84532, contract_address=EVM.lower(), tx_hash=None)
    with pytest.raises(InvalidInput, match="EVM address"):
        new_token(core_db, sita, network_id=84532, contract_address=TYPE_HASH, tx_hash=None)


def test_the_database_backs_the_symbol_and_supply_rules(core_db, sita):
    for column, value in (("symbol", "'SI TA'"), ("supply", "'0'"), ("name", "' '")):
        values = {"symbol": "'SITA'", "supply": "'1'", "name": "'n'", column: value}
        if core_db.backend == "sqlite" and column != "name":
            values["supply"] = values["supply"].replace("'1'", "'" + "1".zfill(78) + "'")
            values["supply"] = values["supply"].replace("'0'", "'" + "0" * 78 + "'")
        with pytest.raises(sa.exc.IntegrityError), core_db.transaction() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO tokens (name, symbol, supply, creator_id, network_id) VALUES "
                    f"({values['name']}, {values['symbol']}, {values['supply']}, :creator, "
                    "'ckb:testnet')"
                ),
                {"creator": sita},
            )


def test_tokens_are_listed_newest_first_with_their_creators(core_db, sita):
    core.create_user(core_db, "other")
    first = new_token(core_db, sita, tx_hash=None)
    second = new_token(core_db, sita, symbol="TWO", tx_hash=None)
    new_token(core_db, "other", symbol="OTHER", tx_hash=None)
    mine = tokens.list_tokens(core_db, creator_id=sita)
    assert [token.id for token in mine] == [second.id, first.id]
    assert mine[0].creator == tokens.Creator(id=sita, username="sita", wallet_address=ckb_user(1))
    assert [t.id for t in tokens.list_tokens(core_db, creator_id=sita, before_id=second.id)] == [
        first.id
    ]
    assert tokens.list_tokens(core_db, limit=1)[0].creator.wallet_address is None


def test_a_transaction_is_recorded_once_and_read_newest_first(core_db, sita):
    token = new_token(core_db, sita, tx_hash=None)
    hashes = ["0x" + f"{n:064x}" for n in range(1, 4)]
    for tx_hash in hashes:
        tokens.record_token_transaction(
            core_db,
            user_id=sita,
            token_id=token.id,
            tx_hash=tx_hash,
            tx_type="transfer",
            amount=2**200,
            metadata={"to": ckb_user(2)},
        )
    again = tokens.record_token_transaction(
        core_db,
        user_id=sita,
        token_id=token.id,
        tx_hash=hashes[0],
        tx_type="transfer",
        amount=2**200,
        metadata={"to": ckb_user(2)},
    )
    recent = tokens.get_recent_transactions(core_db, sita, limit=2)
    assert [tx.tx_hash for tx in recent] == [hashes[2], hashes[1]]
    assert again.id == tokens.get_recent_transactions(core_db, sita)[-1].id
    assert count(core_db, "transactions") == 3
    with pytest.raises(Conflict, match="already recorded"):
        tokens.record_token_transaction(
            core_db,
            user_id=sita,
            token_id=token.id,
            tx_hash=hashes[0],
            tx_type="transfer",
            amount=1,
        )
    with pytest.raises(InvalidInput, match="lives on ckb:testnet"):
        tokens.record_token_transaction(
            core_db,
            user_id=sita,
            token_id=token.id,
            tx_hash=TX,
            tx_type="mint",
            network_id="eip155:1",
        )


def test_a_create_transaction_recorded_later_becomes_the_tokens(core_db, sita):
    token = new_token(core_db, sita, tx_hash=None)
    tokens.record_token_transaction(
        core_db, user_id=sita, token_id=token.id, tx_hash=TX, tx_type="create"
    )
    assert tokens.get_token(core_db, token.id).tx_hash == TX
    tokens.record_transaction_outcome(
        core_db, network_id="testnet", tx_hash=TX, outcome="confirmed", block_number=1
    )
    assert tokens.get_token(core_db, token.id).status == "confirmed"


def test_the_supply_is_issued_once_the_token_is_confirmed_and_only_once(core_db, sita):
    token = new_token(core_db, sita, supply=2**255)
    with pytest.raises(Conflict, match="is pending"):
        tokens.issue_supply(core_db, token.id)
    tokens.record_transaction_outcome(
        core_db, network_id=CKB_TESTNET, tx_hash=TX, outcome="confirmed", block_number=3
    )
    first = tokens.issue_supply(core_db, token.id)
    assert tokens.issue_supply(core_db, token.id).id == first.id
    asset = ledger.get_asset(core_db, asset_id=token.asset_id)
    assert ledger.get_balance(core_db, f"user:{sita}", asset.code).available == 2**255


def test_evm_outcomes_are_the_trackers_not_the_callers(core_db, sita):
    with pytest.raises(InvalidInput, match="chain tracker"):
        tokens.record_transaction_outcome(
            core_db, network_id="eip155:1", tx_hash=TX, outcome="confirmed", block_number=1
        )
