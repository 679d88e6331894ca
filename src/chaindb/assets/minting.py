"""The mint function chaindb ships: Bubblegum `mint_v1` transactions, one per job, built and
signed locally with solders; sent to a Solana RPC node when one is configured
(CHAINDB_SOLANA_RPC_URL), otherwise kept signed and unsent (their signatures recorded).

Its receipt counts the base fee (5,000 lamports a signature) of each transaction; priority
fees and storage costs are the application's to add (record_cost) if it pays them.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from solders.hash import Hash
from solders.keypair import Keypair
from solders.transaction import Transaction

from chaindb.assets import bubblegum
from chaindb.assets.queue import ClaimedBatch, MintedItem, MintJob, MintReceipt
from chaindb.errors import ChaindbError

RPC_URL_ENV = "CHAINDB_SOLANA_RPC_URL"
RPC_TIMEOUT_S = 10.0
NAME_FALLBACK = "Memory"


class SolanaRpcError(ChaindbError):
    """The Solana node refused a request or could not be reached."""


@dataclass
class SolanaMinter:
    """A MintFunction: `payer` pays the fees, `tree_delegate` may mint into the trees."""

    payer: Keypair
    tree_delegate: Keypair
    rpc_url: str | None = None
    uri_base: str = "https://arweave.net/"
    sent: list[Transaction] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Keypair.pubkey() derives the key again at each call (about 18 us): once here.
        self._payer_key = self.payer.pubkey()
        self._tree_delegate_key = self.tree_delegate.pubkey()
        self._signers = bubblegum.Signers.of(self.payer, [self.tree_delegate])

    @classmethod
    def from_environment(cls, payer: Keypair, tree_delegate: Keypair) -> SolanaMinter:
        return cls(payer=payer, tree_delegate=tree_delegate, rpc_url=os.environ.get(RPC_URL_ENV))

    def __call__(self, batch: ClaimedBatch) -> MintReceipt:
        blockhash = self._latest_blockhash()
        items = []
        for job in batch.jobs:
            transaction = self.transaction(job, blockhash)
            if self.rpc_url:
                self._send(transaction)
            self.sent.append(transaction)
            items.append(
                MintedItem(
                    job_id=job.id,
                    mint_signature=str(transaction.signatures[0]),
                    transaction_fee_lamports=bubblegum.LAMPORTS_PER_SIGNATURE
                    * len(transaction.signatures),
                )
            )
        return MintReceipt(items=items)

    def transaction(self, job: MintJob, blockhash: Hash) -> Transaction:
        """The job's mint_v1, signed by the payer and the tree delegate."""
        assert job.merkle_tree is not None, "a claimed job has its tree"
        uri_id = job.metadata_arweave_tx_id or job.content_arweave_tx_id
        name = str(job.metadata.get("name") or NAME_FALLBACK)
        args = bubblegum.MintArgs(
            name=_cut(name, bubblegum.NAME_BYTES_MAX), uri=self.uri_base + uri_id
        )
        instruction = bubblegum.mint_v1_instruction(
            tree=job.merkle_tree,
            leaf_owner=job.owner_address,
            payer=self._payer_key,
            tree_delegate=self._tree_delegate_key,
            args=args,
        )
        return self._signers.sign([instruction], blockhash)

    def _latest_blockhash(self) -> Hash:
        if not self.rpc_url:
            return Hash.default()  # offline: signed, never sent
        result = self._rpc("getLatestBlockhash", [{"commitment": "confirmed"}])
        return Hash.from_string(result["value"]["blockhash"])

    def _send(self, transaction: Transaction) -> None:
        encoded = base64.b64encode(bytes(transaction)).decode()
        sent = self._rpc("sendTransaction", [encoded, {"encoding": "base64"}])
        if sent != str(transaction.signatures[0]):
            raise SolanaRpcError(f"the node answered {sent!r} for {transaction.signatures[0]}")

    def _rpc(self, method: str, params: list[Any]) -> Any:
        assert self.rpc_url is not None
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        request = urllib.request.Request(
            self.rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_S) as response:
                answer = json.loads(response.read())
        except OSError as error:
            raise SolanaRpcError(f"Solana node unreachable ({method}): {error}") from None
        if "error" in answer:
            raise SolanaRpcError(f"Solana node refused {method}: {answer['error']}")
        return answer["result"]


def _cut(text: str, bytes_max: int) -> str:
    encoded = text.encode("utf-8")[:bytes_max]
    return encoded.decode("utf-8", errors="ignore")
