"""The chain: what the orchestrator reads from Ethereum, and the key it signs with.

Built so far: the node's ETH key (`keystore`), `-network simulated` (`simulated`), an
in-process chain for tests and demos that is never for money, and the Chainlink price feed
reader (`chainlink`, over an `eth_call` the host provides). The real networks (a devnet on
anvil, Arbitrum One) come with issue #5 behind the same `lpengine.pm.ChainView` interface.
"""

from __future__ import annotations

from pathlib import Path

from lpengine.chain.simulated import SimulatedChain
from lpengine.pm.chainview import ChainView

OFFCHAIN = "offchain"
SIMULATED = "simulated"
NETWORKS = (OFFCHAIN, SIMULATED)
"""-network values; every one but offchain takes payments."""


def open_chain(network: str, data_dir: Path) -> ChainView:
    """The chain view of `network` (not offchain, which has none)."""
    if network == SIMULATED:
        return SimulatedChain(data_dir)
    raise ValueError(f"network: no chain view for {network!r} (expected one of {NETWORKS[1:]})")


__all__ = ["NETWORKS", "OFFCHAIN", "SIMULATED", "SimulatedChain", "open_chain"]
