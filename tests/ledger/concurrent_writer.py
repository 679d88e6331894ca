"""One writer process of the ledger concurrency test: random transfers, a JSON tally out.

    python concurrent_writer.py URL SEED COUNT USERS
Any error other than a refused overdraft exits non-zero with the error on stderr.
"""

from __future__ import annotations

import json
import random
import sys

import chaindb
from chaindb import ledger
from chaindb.ledger import InsufficientFunds


def main() -> None:
    url, seed, count, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    db = chaindb.connect(url)
    tally = {"written": 0, "refused": 0, "moved": 0}
    for number in range(count):
        sender, receiver = rng.sample(range(users), 2)
        amount = rng.choice([rng.randint(1, 5_000), 2**64 + rng.randint(0, 9)])
        try:
            ledger.transfer(
                db,
                debit=f"user:u{sender}",
                credit=f"user:u{receiver}",
                amount=amount,
                kind="transfer",
                idempotency_key=f"w{seed}:{number}" if number % 5 == 0 else None,
            )
        except InsufficientFunds:
            tally["refused"] += 1
            continue
        tally["written"] += 1
        tally["moved"] += amount
    db.close()
    print(json.dumps(tally))


if __name__ == "__main__":
    main()
