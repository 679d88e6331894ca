"""Compile contracts/*.sol with solcjs (standard JSON) into src/chaindb/chain/contracts/*.json.

Run through scripts/build-contracts, which installs the pinned compiler first.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "contracts"
OUTPUT = ROOT / "src" / "chaindb" / "chain" / "contracts"
SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "paris",  # no PUSH0: runs on every EVM chaindb talks to, py-evm included
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}


def main() -> None:
    solcjs, version = sys.argv[1], sys.argv[2]
    sources = {path.name: {"content": path.read_text()} for path in sorted(SOURCES.glob("*.sol"))}
    request = {"language": "Solidity", "sources": sources, "settings": SETTINGS}
    output = subprocess.run(
        [solcjs, "--standard-json"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(output[output.index("{") :])  # solcjs may print a notice line first
    errors = [e for e in result.get("errors", []) if e["severity"] == "error"]
    if errors:
        sys.exit("\n".join(e["formattedMessage"] for e in errors))
    compiler = subprocess.run([solcjs, "--version"], capture_output=True, text=True, check=True)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for source, contracts in result["contracts"].items():
        digest = hashlib.sha256(sources[source]["content"].encode()).hexdigest()
        for name, output in contracts.items():
            if not output["evm"]["bytecode"]["object"]:
                continue  # an interface: nothing to deploy
            artifact = {
                "contract": name,
                "source": f"contracts/{source}",
                "source_sha256": digest,
                "compiler": f"solc {compiler.stdout.strip()} (npm solc@{version})",
                "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
                "rebuild": "scripts/build-contracts",
                "abi": output["abi"],
                "bytecode": "0x" + output["evm"]["bytecode"]["object"],
            }
            (OUTPUT / f"{name}.json").write_text(json.dumps(artifact, indent=1) + "\n")
            print(f"wrote {OUTPUT / name}.json")


if __name__ == "__main__":
    main()
