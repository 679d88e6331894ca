"""A chain to talk to: any JSON-RPC node (CHAINDB_RPC_URL), or eth-tester's in-process EVM.

A chain is known by its CAIP-2 id and its genesis (block 0) hash: two nodes with the same chain
id but different genesis blocks are two chains (see chain.pins). Each in-process EVM is a chain
of its own, its genesis made unique.

Every read and write goes through `Resilience` (retries with backoff, circuit breaker). Writes
are signed locally: chaindb keeps the raw signed transaction (to rebroadcast, or to spot the
transaction that replaced it) and picks nonces itself, since a node's 'pending' count ignores
transactions it has not seen.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BlockNotFound, TransactionNotFound
from web3.providers.rpc import HTTPProvider

from chaindb.chain.resilience import ChainUnavailable, Resilience, mask_rpc_url
from chaindb.config import mask_text
from chaindb.errors import ConfigError, InvalidInput
from chaindb.types import parse_chain_id

DEFAULT_CONFIRMATIONS = 12
IN_PROCESS_CONFIRMATIONS = 3
RPC_TIMEOUT_S = 10
IN_PROCESS_NODE = "a new in-process EVM (no CHAINDB_RPC_URL)"  # it lives as long as the process
GENESIS_EXTRA_DATA_BYTES = 32  # the most a block header's extra data holds


def contract_artifact(name: str) -> dict[str, Any]:
    """ABI, bytecode and compiler of a contract built by scripts/build-contracts."""
    return json.loads(files("chaindb.chain").joinpath(f"contracts/{name}.json").read_text())


@dataclass
class Chain:
    """One chain: its web3 handle, CAIP-2 id, genesis hash, confirmation depth, resilient calls
    and the node it talks to (`node`: 'the node at URL', the URL masked, as it may be shown)."""

    w3: Web3
    confirmations_required: int
    resilience: Resilience = field(default_factory=Resilience)
    tester: Any = None  # eth-tester's EthereumTester when in process
    node: str = IN_PROCESS_NODE

    @cached_property
    def numeric_id(self) -> int:
        return int(self.call(lambda: self.w3.eth.chain_id))

    @property
    def chain_id(self) -> str:
        return parse_chain_id(self.numeric_id)

    @cached_property
    def genesis_hash(self) -> str:
        """The hash of block 0: with the chain id, what tells this chain from any other."""
        genesis = self.block_hash(0)
        if genesis is None:
            raise ChainUnavailable(f"{self.node} has no block 0: cannot tell which chain it is")
        return genesis

    def describe(self) -> str:
        """'eip155:1 (genesis 0xd4e5…) via the node at https://…/v3/***'."""
        return f"{self.chain_id} (genesis {self.genesis_hash}) via {self.node}"

    def call(self, action: Any, *, retry: bool = True) -> Any:
        return self.resilience.call(action, retry=retry)

    def head(self) -> int:
        return int(self.call(lambda: self.w3.eth.block_number))

    def block_hash(self, number: int) -> str | None:
        """The canonical hash at `number`, or None above the head."""
        try:
            block = self.call(lambda: self.w3.eth.get_block(number))
        except BlockNotFound:
            return None
        return "0x" + bytes(block["hash"]).hex()

    def receipt(self, tx_hash: str) -> Any | None:
        try:
            return self.call(lambda: self.w3.eth.get_transaction_receipt(HexBytes(tx_hash)))
        except TransactionNotFound:
            return None

    def transaction(self, tx_hash: str) -> Any | None:
        try:
            return self.call(lambda: self.w3.eth.get_transaction(HexBytes(tx_hash)))
        except TransactionNotFound:
            return None

    def mined_nonce(self, address: str) -> int:
        """How many transactions of `address` are in the canonical chain."""
        return int(self.call(lambda: self.w3.eth.get_transaction_count(address, "latest")))

    def send_raw(self, raw: bytes) -> str:
        # Retrying is safe: the same signed bytes are the same transaction (same nonce, same
        # hash), which a node that got them the first time answers with "already known".
        tx_hash = self.call(lambda: self.w3.eth.send_raw_transaction(raw))
        return "0x" + bytes(tx_hash).hex()

    def funded_account(self, index: int = 0) -> LocalAccount:
        """In process only: one of eth-tester's funded accounts, with its key."""
        if self.tester is None:
            raise ConfigError("funded test accounts exist only on the in-process chain")
        key = self.tester.backend.account_keys[index]
        return Account.from_key(key.to_bytes())


def connect_chain(
    rpc_url: str | None = None,
    *,
    confirmations: int | None = None,
    resilience: Resilience | None = None,
) -> Chain:
    """The chain at `rpc_url` (else CHAINDB_RPC_URL), or a fresh in-process EVM when neither is
    set. Confirmations before a transaction is final: CHAINDB_CONFIRMATIONS, else 12 on a real
    node and 3 in process."""
    if confirmations is not None and confirmations < 1:
        raise InvalidInput("confirmations", confirmations, "must be a whole number >= 1")
    url = rpc_url or os.environ.get("CHAINDB_RPC_URL")
    if url:
        _check_rpc_url(url)
    depth = confirmations or _env_int("CHAINDB_CONFIRMATIONS")
    resilience = resilience or Resilience()
    if url:
        provider = HTTPProvider(
            url, request_kwargs={"timeout": RPC_TIMEOUT_S}, exception_retry_configuration=None
        )
        if resilience.node_url is None:  # a Resilience serves one node: it names it in errors
            resilience.node_url = url
        depth = depth or DEFAULT_CONFIRMATIONS
        return Chain(Web3(provider), depth, resilience, node=resilience.node)
    from web3 import EthereumTesterProvider

    tester = new_in_process_tester()
    w3 = Web3(EthereumTesterProvider(tester))
    if resilience.node_url is None:
        resilience.node = IN_PROCESS_NODE
    return Chain(w3, depth or IN_PROCESS_CONFIRMATIONS, resilience, tester)


def _check_rpc_url(url: str) -> None:
    """Refuse at once what no retry can mend: a URL that is not http(s)://host[:port]."""
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it: a non-numeric or out-of-range port raises)
    except ValueError as error:
        problem = str(error)
    else:
        if parts.scheme not in ("http", "https"):
            problem = "must start with http:// or https:// (JSON-RPC over HTTP)"
        elif not parts.hostname:
            problem = "has no host"
    if problem is not None:
        try:
            shown = mask_rpc_url(url)
        except ValueError:  # it does not parse: mask what looks like a secret in it
            shown = mask_text(url)
        raise ConfigError(f"RPC URL {shown!r} is invalid: {problem}")


def new_in_process_tester() -> Any:
    """A new eth-tester EVM whose genesis no other has: eth-tester stamps genesis with the
    current second only, so two made in the same second would pass for one chain."""
    from eth_tester import EthereumTester, PyEVMBackend

    unique = {"extra_data": secrets.token_bytes(GENESIS_EXTRA_DATA_BYTES)}
    backend = PyEVMBackend(genesis_parameters=PyEVMBackend.generate_genesis_params(unique))
    return EthereumTester(backend)


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}: {raw!r} is invalid: must be a whole number >= 1")
    return int(raw)
