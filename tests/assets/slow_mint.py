"""A mint function for the CLI test: it says when it holds a batch, then takes its time."""

from __future__ import annotations

import os
import time
from pathlib import Path

from chaindb import assets
from tests.assets.conftest import minter

MINT_S = 2.0


def mint(batch: assets.ClaimedBatch) -> assets.MintReceipt:
    Path(os.environ["SLOW_MINT_MARKER"]).write_text(str(batch.batch_id))
    time.sleep(MINT_S)
    return minter()(batch)
