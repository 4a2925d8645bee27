"""Registration: the orchestrator's service URI in ServiceRegistry (and the AI subnet's).

Gateways find orchestrators by reading `getServiceURI(address)` from the registry; setting it is
one `setServiceURI(string)` transaction from the orchestrator's key. Nothing is sent when the
registry already holds that URI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from web3.contract import Contract

from lpengine.chain.transactions import TxSender, node_sender
from lpengine.chain.view import EthChainView
from lpengine.config import check_service_uri

log = logging.getLogger(__name__)

SET_URI_GAS = 500_000


@dataclass(frozen=True)
class Registration:
    address: str
    service_uri: str
    tx_hash: str | None  # None: the registry already held it
    ai_tx_hash: str | None
    ai_registered: bool
    active: bool
    round: int


def register(
    view: EthChainView, node_key: bytes, service_uri: str, *, ai_service_registry: bool = False
) -> Registration:
    """Sets `service_uri` for the node's address; raises ChainError (or ValueError for a bad
    URI, or when the AI registry is asked for but the network has none)."""
    check_service_uri(service_uri, "service-uri")
    sender = node_sender(view, node_key, timeout_s=60)
    tx_hash = _set(view, sender, view.contracts.service_registry, service_uri)
    ai_tx_hash = None
    if ai_service_registry:
        ai = view.contracts.ai_service_registry
        if ai is None:
            raise ValueError(f"aiServiceRegistry: {view.network.name} has no AI ServiceRegistry")
        ai_tx_hash = _set(view, sender, ai, service_uri)
    view.poll()
    round_number = view.last_initialized_round()
    return Registration(
        address=sender.address,
        service_uri=service_uri,
        tx_hash=tx_hash,
        ai_tx_hash=ai_tx_hash,
        ai_registered=ai_service_registry,
        active=view.is_active(view.orchestrator, round_number),
        round=round_number,
    )


def service_uri(registry: Contract, address: str) -> str:
    return str(registry.functions.getServiceURI(address).call())


def _set(view: EthChainView, sender: TxSender, registry: Contract, uri: str) -> str | None:
    if service_uri(registry, sender.address) == uri:
        log.info("service URI already %s in %s", uri, registry.address)
        return None
    data = bytes.fromhex(registry.functions.setServiceURI(uri)._encode_transaction_data()[2:])
    mined, _ = sender.send(registry.address, data, SET_URI_GAS)
    log.info("service URI set to %s in %s: tx 0x%s", uri, registry.address, mined.hash.hex())
    return "0x" + mined.hash.hex()
