"""Where the devnet's programs are: anvil (Foundry's node) and solcjs (the Solidity compiler).

`scripts/install-test-tools.sh` installs both from npm into `<repo>/.tools/`: that folder is
looked for beside the source tree (a checkout) and in the working directory (an installed
package run from the repository, as CI does); a copy on PATH is used otherwise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lpengine import envs

TOOLS_BIN = Path(".tools") / "node_modules" / ".bin"
REPO_TOOLS_DIR = Path(__file__).resolve().parents[3] / TOOLS_BIN
INSTALL_HINT = "run `make tools` (scripts/install-test-tools.sh) to install it into .tools/"


def find_tool(name: str) -> Path | None:
    """The executable `name` from .tools/, else from PATH; None when neither has it."""
    for folder in (REPO_TOOLS_DIR, Path.cwd() / TOOLS_BIN):
        if (local := folder / name).is_file():
            return local
    found = shutil.which(name)
    return Path(found) if found else None


def anvil() -> Path | None:
    return find_tool("anvil")


def solcjs() -> Path | None:
    return find_tool("solcjs")


def absent(name: str) -> bool:
    """Whether `name` is missing, for tests that skip without it; with LPENGINE_REQUIRE_TOOLS
    set (`make test` sets it, after `make tools`) a missing tool is an error, not a skip."""
    if find_tool(name) is not None:
        return False
    if envs.LPENGINE_REQUIRE_TOOLS.get():
        raise FileNotFoundError(f"{name} is required (LPENGINE_REQUIRE_TOOLS): {INSTALL_HINT}")
    return True


def require(name: str) -> Path:
    """The executable `name`; FileNotFoundError naming it and how to install it."""
    path = find_tool(name)
    if path is None:
        raise FileNotFoundError(
            f"{name}: not found in {REPO_TOOLS_DIR} nor on PATH; {INSTALL_HINT}"
        )
    return path
