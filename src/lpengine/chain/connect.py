"""Opening a real network from the node's settings: RPC endpoints, contracts, watcher, redeemer."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lpengine.chain.contracts import Contracts
from lpengine.chain.networks import CHAINS
from lpengine.chain.redeemer import Redeemer
from lpengine.chain.rounds import RoundInitializer
from lpengine.chain.rpc import connect, parse_urls, redact
from lpengine.chain.transactions import node_sender
from lpengine.chain.view import POLL_INTERVAL_S, STALE_AFTER_S, EthChainView, ViewSettings
from lpengine.pm.address import checksum

if TYPE_CHECKING:
    from lpengine.config import ChainConfig
    from lpengine.pm.receiver import PaymentReceiver

log = logging.getLogger(__name__)

DEFAULT_ETH_URL = "http://127.0.0.1:8545"
"""anvil's default address: the devnet's RPC when -ethUrl is not given."""


def view_settings(config: ChainConfig) -> ViewSettings:
    poll_s = config.block_polling_interval_s or POLL_INTERVAL_S
    return ViewSettings(
        poll_interval_s=poll_s,
        stale_after_s=(
            STALE_AFTER_S if config.chain_stale_after_s is None else config.chain_stale_after_s
        ),
        max_backoff_s=max(60.0, poll_s),
        min_gas_price_wei=config.min_gas_price_wei or 0,
        max_gas_price_wei=config.max_gas_price_wei or 0,
    )


def open_network(network: str, config: ChainConfig, orchestrator: bytes) -> EthChainView:
    """The watched view of `network` (started); raises ChainError when it cannot be read."""
    spec = CHAINS[network]
    if config.eth_url is None and network != "devnet":
        raise ValueError(f"ethUrl: required on -network {network}")
    urls = parse_urls(config.eth_url or DEFAULT_ETH_URL)
    w3 = connect(urls)
    contracts = Contracts.lookup(
        w3, config.eth_controller or spec.controller, ai_service_registry=spec.ai_service_registry
    )
    view = EthChainView(
        w3, spec, contracts, orchestrator=orchestrator, settings=view_settings(config)
    )
    view.start()
    log.info(
        "chain: %s over %s; Controller %s; block %d, round %d; %s %s",
        network, ", ".join(redact(u) for u in urls), contracts.controller.address,
        view.last_seen_block(), view.last_initialized_round(), checksum(orchestrator),
        "is active" if view.is_active(orchestrator, view.last_initialized_round())
        else "is NOT active: payments are refused until it is",
    )  # fmt: skip
    return view


def start_redeemer(
    view: EthChainView,
    receiver: PaymentReceiver,
    node_key: bytes,
    *,
    initialize_round: bool = False,
) -> Redeemer:
    """Redemption of the receiver's winning tickets with the node's key (started); with
    `initialize_round`, each pass first initializes the round if nobody has."""
    tx = node_sender(view, node_key)
    redeemer = Redeemer(
        view=view,
        queue=receiver.queue,
        store=receiver.store,
        senders=receiver.senders,
        tx=tx,
        redeem_gas=receiver.config.redeem_gas,
        rounds=RoundInitializer(view, tx) if initialize_round else None,
    )
    view.subscribe(receiver.on_l1_block)
    redeemer.start()
    return redeemer
