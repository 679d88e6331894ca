"""A Solana JSON-RPC endpoint over real HTTP for the minter's send path: it serves a blockhash
and accepts `sendTransaction` only for a transaction that deserializes, carries that blockhash
and whose every signature verifies (solders checks them, as a validator's sanitizer would).

solana-test-validator is not installable from this machine's package registries, so the two
methods SolanaMinter calls are answered here; everything the node would check of the
transaction's bytes is checked for real.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from solders.hash import Hash
from solders.transaction import Transaction

BLOCKHASH = Hash.new_unique()


class SolanaNode:
    """`refuse` makes sendTransaction answer a JSON-RPC error, as a node does when simulation
    fails; `received` keeps every transaction it accepted."""

    def __init__(self) -> None:
        self.received: list[Transaction] = []
        self.methods: list[str] = []
        self.refuse = False
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                data = json.dumps({"jsonrpc": "2.0", "id": request["id"], **node.answer(request)})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, request: dict) -> dict:
        self.methods.append(request["method"])
        if request["method"] == "getLatestBlockhash":
            value = {"blockhash": str(BLOCKHASH), "lastValidBlockHeight": 1_000}
            return {"result": {"context": {"slot": 1}, "value": value}}
        if request["method"] == "sendTransaction":
            return self._send(*request["params"])
        return {"error": {"code": -32601, "message": "Method not found"}}

    def _send(self, encoded: str, options: dict) -> dict:
        assert options == {"encoding": "base64"}
        transaction = Transaction.from_bytes(base64.b64decode(encoded))
        if transaction.message.recent_blockhash != BLOCKHASH:
            return {"error": {"code": -32002, "message": "Blockhash not found"}}
        transaction.verify()  # raises on a bad signature: the test fails loudly
        if self.refuse:
            message = "Transaction simulation failed: Error processing Instruction 0"
            return {"error": {"code": -32002, "message": message}}
        self.received.append(transaction)
        return {"result": str(transaction.signatures[0])}
