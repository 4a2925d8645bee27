"""The committed artifacts are what contracts/ compiles to, with the selectors go calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import function_abi_to_4byte_selector

from lpengine.chain import tools
from lpengine.chain.contracts import artifact
from lpengine.chain.solidity import CONTRACTS, compile_contracts, render

# The checkout's files, whichever lpengine is imported (CI imports the installed package).
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(tools.absent("solcjs"), reason=f"solcjs is absent: {tools.INSTALL_HINT}")
def test_artifacts_match_sources() -> None:
    compiled = compile_contracts(ROOT / "contracts")
    for name in CONTRACTS:
        committed = (ROOT / "src/lpengine/chain/artifacts" / f"{name}.json").read_text("utf-8")
        assert render(compiled[name]) == committed, (
            f"{name}: artifacts drifted from contracts/; run python scripts/compile_contracts.py"
        )


def _selectors(name: str) -> dict[str, str]:
    return {
        f["name"]: function_abi_to_4byte_selector(f).hex()
        for f in artifact(name)["abi"]
        if f["type"] == "function"
    }


def test_selectors_are_livepeers() -> None:
    """protocol.md §7.8's table, plus the RoundsManager/BondingManager/Controller reads."""
    broker = _selectors("TicketBroker")
    assert broker["redeemWinningTicket"] == "ec8b3cb6"
    assert broker["batchRedeemWinningTickets"] == "d01b808e"
    assert broker["getTicketHash"] == "b03fa864"
    assert broker["usedTickets"] == "59a515ba"
    assert broker["getSenderInfo"] == "e1a589da"
    assert broker["claimedReserve"] == "4ac826da"
    assert broker["fundDepositAndReserve"] == "511f4073"
    assert broker["unlock"] == "a69df4b5"
    assert broker["withdraw"] == "3ccfd60b"
    registry = _selectors("ServiceRegistry")
    assert registry["setServiceURI"] == "5f11301b"
    assert registry["getServiceURI"] == "214c2a4b"
    feed = _selectors("PriceFeed")
    assert feed["latestRoundData"] == "feaf968c"
    assert feed["decimals"] == "313ce567"
    assert feed["description"] == "7284e416"


def test_unknown_artifact_is_named() -> None:
    with pytest.raises(ValueError, match="no artifact named 'Nope'"):
        artifact("Nope")
