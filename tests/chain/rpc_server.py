"""A real JSON-RPC server over HTTP in front of an in-process chain, which fails on purpose (and
can claim another chain id, as a node of another network would)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3
from web3._utils.encoding import Web3JsonEncoder
from web3.datastructures import NamedElementOnion

from chaindb.chain.client import new_in_process_tester


class FlakyNode:
    """Serves eth-tester over HTTP. fail_next answers that many requests with 503; fail_always
    answers every request with 503; fail_every fails one request in n. chain_id, when given, is
    the chain id it answers eth_chainId with."""

    def __init__(self, *, chain_id: int | None = None) -> None:
        self.tester = new_in_process_tester()
        self.chain_id = chain_id
        provider = EthereumTesterProvider(self.tester)
        # The provider shapes eth-tester's answers into JSON-RPC in its middleware.
        self.handle = provider.request_func(Web3(provider), NamedElementOnion([]))
        self.lock = threading.Lock()
        self.requests = 0
        self.methods: list[str] = []
        self.failures = 0
        self.fail_next = 0
        self.fail_always = False
        self.fail_every = 0
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload = node.answer(body)
                data = json.dumps(payload, cls=Web3JsonEncoder).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests += 1
            self.methods.append(body["method"])
            failing = (
                self.fail_always
                or self.fail_next > 0
                or (self.fail_every and self.requests % self.fail_every == 0)
            )
            if failing:
                self.fail_next = max(0, self.fail_next - 1)
                self.failures += 1
                return 503, {"jsonrpc": "2.0", "id": body.get("id"), "error": "unavailable"}
            if self.chain_id is not None and body["method"] == "eth_chainId":
                return 200, {"jsonrpc": "2.0", "id": body.get("id"), "result": hex(self.chain_id)}
            try:
                response = dict(self.handle(body["method"], body.get("params", [])))
            except TransactionFailed as error:  # a node answers a revert, it does not hang up
                reason = error.args[0] if error.args else ""
                if isinstance(reason, bytes):
                    reason = reason.decode(errors="replace")
                message = f"execution reverted: {reason}".strip()
                response = {"jsonrpc": "2.0", "error": {"code": 3, "message": message}}
        response["id"] = body.get("id")
        return 200, response

    def __enter__(self) -> FlakyNode:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
