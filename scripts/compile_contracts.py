"""Recompiles contracts/*.sol into src/lpengine/chain/artifacts/ (needs solcjs: `make tools`).

python scripts/compile_contracts.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lpengine.chain.solidity import ARTIFACTS_DIR, compile_contracts, write_artifacts

if __name__ == "__main__":
    artifacts = compile_contracts()
    write_artifacts(artifacts)
    for name, artifact in artifacts.items():
        size = (len(artifact["bytecode"]) - 2) // 2
        print(f"{ARTIFACTS_DIR / name}.json: {size} bytes of creation code")
