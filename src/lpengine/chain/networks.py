"""The networks an orchestrator runs on, by go-livepeer's names (`-network`)."""

from __future__ import annotations

from dataclasses import dataclass

from lpengine.pm.config import ARBITRUM_REDEEM_GAS

OFFCHAIN = "offchain"
SIMULATED = "simulated"
DEVNET = "devnet"
ARBITRUM_ONE = "arbitrum-one-mainnet"

DEVNET_DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
"""anvil's first funded account (from its default mnemonic): the devnet's deployer and owner."""
DEVNET_DEPLOYER_KEY = bytes.fromhex(
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
)
"""Its well-known private key: for a local devnet only, never for money."""
DEVNET_CONTROLLER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
"""Where the deployer's first transaction (the Controller, see `devnet.deploy`) lands."""


@dataclass(frozen=True)
class Network:
    name: str
    chain_id: int
    controller: str
    ai_service_registry: str | None = None  # None: the Controller's "AIServiceRegistry"
    redeem_gas: int = ARBITRUM_REDEEM_GAS
    l1_block_field: str | None = None
    """The block header field that carries the L1 block number (Arbitrum), else the number."""


CHAINS = {
    DEVNET: Network(DEVNET, 31337, DEVNET_CONTROLLER),
    ARBITRUM_ONE: Network(
        ARBITRUM_ONE,
        42161,
        "0xD8E8328501E9645d16Cf49539efC04f734606ee4",
        ai_service_registry="0x04C0b249740175999E5BF5c9ac1dA92431EF34C5",
        l1_block_field="l1BlockNumber",
    ),
}
"""The networks with a real chain behind them."""
