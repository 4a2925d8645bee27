"""Compiles `contracts/*.sol` with solcjs into the artifacts lpengine deploys and calls.

The artifacts (`src/lpengine/chain/artifacts/<Contract>.json`: ABI and creation bytecode) are
committed, so running the devnet needs no compiler; `scripts/compile_contracts.py` rewrites
them, and a test recompiles and fails when they drift from the sources. The bytecode carries no
metadata hash (`appendCBOR: false`), so it depends on the sources and settings alone.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from lpengine.chain import tools

REPO = Path(__file__).resolve().parents[3]
CONTRACTS_DIR = REPO / "contracts"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
CONTRACTS = (
    "Controller",
    "RoundsManager",
    "BondingManager",
    "TicketBroker",
    "ServiceRegistry",
    "PriceFeed",
)
"""The deployable contracts, one per source file of the same name."""
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"appendCBOR": False},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}
TIMEOUT_S = 300


class CompileError(RuntimeError):
    """solcjs refused the sources (the message carries its errors)."""


def compile_contracts(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, dict[str, Any]]:
    """Artifact documents by contract name: {contract, source, compiler, abi, bytecode}."""
    solcjs = tools.require("solcjs")
    sources = {
        p.name: {"content": p.read_text(encoding="utf-8")}
        for p in sorted(contracts_dir.glob("*.sol"))
    }
    if not sources:
        raise CompileError(f"{contracts_dir}: no .sol files")
    request = {"language": "Solidity", "sources": sources, "settings": SETTINGS}
    version = subprocess.run(
        [solcjs, "--version"], capture_output=True, text=True, check=True, timeout=TIMEOUT_S
    ).stdout.strip()
    done = subprocess.run(
        [solcjs, "--standard-json", "--base-path", str(contracts_dir)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    start = done.stdout.find("{")  # solcjs may print warnings before the JSON
    if done.returncode != 0 or start < 0:
        raise CompileError(f"solcjs failed ({done.returncode}): {done.stderr or done.stdout}")
    output = json.loads(done.stdout[start:])
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    artifacts = {}
    for name in CONTRACTS:
        source = f"{name}.sol"
        compiled = output["contracts"][source][name]
        artifacts[name] = {
            "contract": name,
            "source": f"contracts/{source}",
            "compiler": f"solcjs {version}",
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
        }
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    """The committed text of one artifact (stable: the drift test compares it byte for byte)."""
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def write_artifacts(artifacts: dict[str, dict[str, Any]], out_dir: Path = ARTIFACTS_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, artifact in artifacts.items():
        (out_dir / f"{name}.json").write_text(render(artifact), encoding="utf-8")
