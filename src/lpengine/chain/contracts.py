"""Bindings for the contract calls an orchestrator makes, found through the Controller.

The ABIs are lpengine's compiled artifacts (`artifacts/<Contract>.json`), which keep Livepeer's
signatures for every function called here, so the same bindings read Arbitrum One's contracts
and the devnet's. Names are looked up as go does: Controller.getContract(keccak256(name)).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from web3 import Web3
from web3.contract import Contract

from lpengine.chain.solidity import ARTIFACTS_DIR
from lpengine.pm.address import checksum
from lpengine.pm.chainview import ChainError
from lpengine.pm.keccak import keccak256
from lpengine.pm.ticket import SignedTicket, aux_data

ZERO = "0x" + "00" * 20


@cache
def artifact(name: str) -> dict[str, Any]:
    """The compiled artifact of contract `name`: {abi, bytecode, ...}."""
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"contract: no artifact named {name!r} in {ARTIFACTS_DIR}")
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def contract_id(name: str) -> bytes:
    """The Controller's key of a contract: keccak256(name)."""
    return keccak256(name.encode("ascii"))


def bind(w3: Web3, name: str, address: str | bytes) -> Contract:
    """Contract `name`'s ABI at `address`."""
    addr = Web3.to_checksum_address(checksum(address) if isinstance(address, bytes) else address)
    contract: Contract = w3.eth.contract(address=addr, abi=artifact(name)["abi"])
    return contract


def ticket_struct(signed: SignedTicket) -> tuple[Any, ...]:
    """TicketBroker's Ticket tuple for `redeemWinningTicket` (auxData as protocol.md §7.1)."""
    t = signed.ticket
    return (
        checksum(t.recipient),
        checksum(t.sender),
        t.face_value_wei,
        t.win_prob,
        t.sender_nonce,
        t.recipient_rand_hash,
        aux_data(t.creation_round, t.creation_round_block_hash),
    )


@dataclass(frozen=True)
class Contracts:
    """The protocol's contracts on one chain; `ai_service_registry` may be absent."""

    controller: Contract
    ticket_broker: Contract
    rounds_manager: Contract
    bonding_manager: Contract
    service_registry: Contract
    ai_service_registry: Contract | None

    @classmethod
    def lookup(
        cls, w3: Web3, controller: str, *, ai_service_registry: str | None = None
    ) -> Contracts:
        """Every address from the Controller at `controller`; raises ChainError naming what is
        missing. `ai_service_registry`: its address when the Controller does not register one
        (as on Arbitrum One, where it stands apart)."""
        ctrl = bind(w3, "Controller", controller)
        try:
            if not w3.eth.get_code(ctrl.address):
                raise ChainError(f"ethController: no contract at {ctrl.address}")
            found = {
                name: ctrl.functions.getContract(contract_id(name)).call()
                for name in (
                    "TicketBroker",
                    "RoundsManager",
                    "BondingManager",
                    "ServiceRegistry",
                    "AIServiceRegistry",
                )
            }
        except ChainError:
            raise
        except Exception as err:
            raise ChainError(f"Controller {ctrl.address}: lookup failed: {err}") from err
        for name, addr in found.items():
            if addr == ZERO and name != "AIServiceRegistry":
                raise ChainError(f"Controller {ctrl.address}: no {name} registered")
        ai = ai_service_registry or (
            found["AIServiceRegistry"] if found["AIServiceRegistry"] != ZERO else None
        )
        return cls(
            controller=ctrl,
            ticket_broker=bind(w3, "TicketBroker", found["TicketBroker"]),
            rounds_manager=bind(w3, "RoundsManager", found["RoundsManager"]),
            bonding_manager=bind(w3, "BondingManager", found["BondingManager"]),
            service_registry=bind(w3, "ServiceRegistry", found["ServiceRegistry"]),
            ai_service_registry=bind(w3, "ServiceRegistry", ai) if ai else None,
        )
