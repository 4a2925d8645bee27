"""Where the devnet's programs are: anvil (Foundry's node) and solcjs (the Solidity compiler).

`scripts/install-test-tools.sh` installs both from npm into `<repo>/.tools/`; a copy on PATH
is used otherwise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO_TOOLS_DIR = Path(__file__).resolve().parents[3] / ".tools" / "node_modules" / ".bin"
INSTALL_HINT = "run `make tools` (scripts/install-test-tools.sh) to install it into .tools/"


def find_tool(name: str) -> Path | None:
    """The executable `name` from .tools/, else from PATH; None when neither has it."""
    local = REPO_TOOLS_DIR / name
    if local.is_file():
        return local
    found = shutil.which(name)
    return Path(found) if found else None


def anvil() -> Path | None:
    return find_tool("anvil")


def solcjs() -> Path | None:
    return find_tool("solcjs")


def require(name: str) -> Path:
    """The executable `name`; FileNotFoundError naming it and how to install it."""
    path = find_tool(name)
    if path is None:
        raise FileNotFoundError(
            f"{name}: not found in {REPO_TOOLS_DIR} nor on PATH; {INSTALL_HINT}"
        )
    return path
