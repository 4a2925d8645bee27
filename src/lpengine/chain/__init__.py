"""The chain: what the orchestrator reads from Ethereum, and the key it signs with.

- `keystore`: the node's ETH key;
- `simulated`: `-network simulated`, an in-process chain for tests and demos, never for money;
- real networks (`devnet`: anvil with lpengine's contracts, `arbitrum-one-mainnet`) over
  web3.py: `connect` opens them, `view` watches blocks and rounds behind `pm.ChainView`,
  `redeemer` redeems winning tickets, `registration` sets the service URI, `devnet` runs anvil
  and deploys `contracts/` (compiled by `solidity`), `chainlink` reads price feeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lpengine.chain.networks import ARBITRUM_ONE, DEVNET, OFFCHAIN, SIMULATED
from lpengine.chain.simulated import SimulatedChain
from lpengine.pm.chainview import ChainView

if TYPE_CHECKING:
    from lpengine.config import ChainConfig
    from lpengine.pm.receiver import PaymentReceiver

NETWORKS = (OFFCHAIN, SIMULATED, DEVNET, ARBITRUM_ONE)
"""-network values; every one but offchain takes payments."""


def open_chain(
    network: str,
    data_dir: Path,
    config: ChainConfig | None = None,
    orchestrator: bytes | None = None,
) -> ChainView:
    """The chain view of `network` (not offchain, which has none). A real network needs its
    settings and the orchestrator whose activity it watches; raises ChainError when the node
    cannot be reached or the contracts are not there."""
    if network == SIMULATED:
        return SimulatedChain(data_dir)
    if network in (DEVNET, ARBITRUM_ONE):
        from lpengine.chain.connect import open_network  # NOTE: web3 loads only when needed

        if config is None or orchestrator is None:
            raise ValueError(f"network: {network} needs its chain settings and the orchestrator")
        return open_network(network, config, orchestrator)
    raise ValueError(f"network: no chain view for {network!r} (expected one of {NETWORKS[1:]})")


class Closeable(Protocol):
    def close(self) -> None: ...


def chain_redeemer(
    chain: ChainView, receiver: PaymentReceiver, node_key: bytes, *, initialize_round: bool = False
) -> Closeable | None:
    """Redemption of the receiver's winning tickets on a real network (started), which also
    initializes rounds with `initialize_round`; None on the simulated chain, whose tickets are
    worth nothing."""
    from lpengine.chain.view import EthChainView

    if not isinstance(chain, EthChainView):
        return None
    from lpengine.chain.connect import start_redeemer

    return start_redeemer(chain, receiver, node_key, initialize_round=initialize_round)


def close(chain: ChainView) -> None:
    """Stops what watches `chain`, if anything does."""
    closer = getattr(chain, "close", None)
    if callable(closer):
        closer()


def register_on_start(
    chain: ChainView, node_key: bytes, service_uri: str, ai_service_registry: bool | None
) -> None:
    """-registerServiceURI: sets the service URI when the registry holds another one."""
    from lpengine.chain.registration import register
    from lpengine.chain.view import EthChainView

    if isinstance(chain, EthChainView):
        register(chain, node_key, service_uri, ai_service_registry=bool(ai_service_registry))


__all__ = [
    "NETWORKS",
    "OFFCHAIN",
    "SIMULATED",
    "Closeable",
    "SimulatedChain",
    "chain_redeemer",
    "close",
    "open_chain",
    "register_on_start",
]
