"""The local devnet: anvil on loopback with lpengine's contracts deployed and registered.

    with Anvil.start() as node:
        deployment = deploy(node.w3)            # Controller at networks.DEVNET_CONTROLLER
        deployment.activate(orchestrator)       # into the active set

What `python -m lpengine.serve -network devnet -ethUrl <node.url>` reads. Blocks are mined on
demand (`mine`), one per transaction otherwise (anvil's automine).
"""

from __future__ import annotations

import socket
import subprocess
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.contract import Contract

from lpengine.chain import tools
from lpengine.chain.contracts import artifact, bind, contract_id
from lpengine.chain.networks import DEVNET_DEPLOYER_KEY
from lpengine.chain.rpc import connect

READY = "Listening on"
START_TIMEOUT_S = 30.0
ROUND_LENGTH_BLOCKS = 1000
"""Long enough that tests mining 40-block expirations stay in one round unless they mean to."""
UNLOCK_PERIOD_ROUNDS = 2
TICKET_VALIDITY_ROUNDS = 2
GIT_COMMIT = b"\x00" * 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """An anvil process on 127.0.0.1 (chain id 31337, anvil's default funded accounts)."""

    def __init__(self, proc: subprocess.Popen[str], port: int, log: list[str]) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.w3 = connect(self.url, timeout_s=10)

    @classmethod
    def start(cls, *, port: int | None = None, args: tuple[str, ...] = ()) -> Anvil:
        """Starts anvil and returns once it listens; FileNotFoundError when it is not installed."""
        binary = tools.require("anvil")
        port = port or free_port()
        proc = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", str(port), "--silent", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        node = cls(proc, port, [])
        node._await_ready(proc)
        return node

    def _await_ready(self, proc: subprocess.Popen[str]) -> None:
        ready = threading.Event()
        assert proc.stdout is not None
        stdout = proc.stdout

        def read() -> None:
            for line in stdout:
                self.log.append(line)
                if READY in line:
                    ready.set()
            ready.set()  # exited

        threading.Thread(target=read, name="anvil-log", daemon=True).start()
        # NOTE: --silent hides the banner; the node answers once bound, so poll the port too.
        deadline = START_TIMEOUT_S
        while not ready.wait(0.05) and deadline > 0:
            deadline -= 0.05
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                pass
        if proc.poll() is not None or deadline <= 0:
            self.stop()
            raise RuntimeError("anvil did not start:\n" + "".join(self.log))

    def mine(self, blocks: int = 1) -> int:
        """Mines `blocks` empty blocks at once; returns the new block number."""
        if blocks < 1:
            raise ValueError(f"blocks: expected >= 1, got {blocks}")
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]
        return int(self.w3.eth.block_number)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Anvil:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class Deployment:
    w3: Web3
    deployer_key: bytes
    controller: Contract
    ticket_broker: Contract
    rounds_manager: Contract
    bonding_manager: Contract
    service_registry: Contract
    ai_service_registry: Contract
    price_feed: Contract

    def transact(self, fn: Any, *, key: bytes | None = None, value: int = 0) -> Any:
        """Signs and sends a contract call from `key` (default: the deployer); its receipt."""
        return transact(self.w3, fn, key or self.deployer_key, value=value)

    def activate(self, orchestrator: str, active: bool = True) -> None:
        """Puts `orchestrator` into (or out of) the active set."""
        self.transact(self.bonding_manager.functions.setActiveTranscoder(orchestrator, active))

    def initialize_round(self) -> int:
        """Initializes the current round; returns its number."""
        self.transact(self.rounds_manager.functions.initializeRound())
        return int(self.rounds_manager.functions.lastInitializedRound().call())


def transact(w3: Web3, fn: Any, key: bytes, *, value: int = 0, gas: int = 3_000_000) -> Any:
    """Signs `fn` (a contract function or constructor call) with `key`, sends it, waits for the
    receipt; RuntimeError when it reverts."""
    account = Account.from_key(key)
    tx = fn.build_transaction(
        {
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "gas": gas,
            "value": value,
            "chainId": w3.eth.chain_id,
        }
    )
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def _deploy(w3: Web3, key: bytes, name: str, *args: Any) -> Contract:
    doc = artifact(name)
    factory = w3.eth.contract(abi=doc["abi"], bytecode=doc["bytecode"])
    receipt = transact(w3, factory.constructor(*args), key, gas=6_000_000)
    return bind(w3, name, receipt["contractAddress"])


def deploy(
    w3: Web3,
    *,
    deployer_key: bytes = DEVNET_DEPLOYER_KEY,
    round_length: int = ROUND_LENGTH_BLOCKS,
    eth_usd_price: int = 3000 * 10**8,
) -> Deployment:
    """Deploys every contract, registers each in the Controller by keccak256(name), and
    initializes the current round. The Controller is the deployer's first contract: on a fresh
    anvil it lands at `networks.DEVNET_CONTROLLER`."""
    controller = _deploy(w3, deployer_key, "Controller")
    addr = controller.address
    contracts = {
        "RoundsManager": _deploy(w3, deployer_key, "RoundsManager", addr, round_length),
        "BondingManager": _deploy(w3, deployer_key, "BondingManager", addr),
        "TicketBroker": _deploy(
            w3, deployer_key, "TicketBroker", addr, UNLOCK_PERIOD_ROUNDS, TICKET_VALIDITY_ROUNDS
        ),
        "ServiceRegistry": _deploy(w3, deployer_key, "ServiceRegistry"),
        "AIServiceRegistry": _deploy(w3, deployer_key, "ServiceRegistry"),
        "PriceFeed": _deploy(w3, deployer_key, "PriceFeed", 8, "ETH / USD", eth_usd_price),
    }
    for name, c in contracts.items():
        fn = controller.functions.setContractInfo(contract_id(name), c.address, GIT_COMMIT)
        transact(w3, fn, deployer_key)
    deployment = Deployment(
        w3=w3,
        deployer_key=deployer_key,
        controller=controller,
        ticket_broker=contracts["TicketBroker"],
        rounds_manager=contracts["RoundsManager"],
        bonding_manager=contracts["BondingManager"],
        service_registry=contracts["ServiceRegistry"],
        ai_service_registry=contracts["AIServiceRegistry"],
        price_feed=contracts["PriceFeed"],
    )
    deployment.initialize_round()
    return deployment
