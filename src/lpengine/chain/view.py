"""The chain view of a real network: what payments read (`pm.ChainView`), kept fresh by a watcher.

A thread polls the head every `poll_interval_s` (go's block polling) and, on each new block,
re-reads the round (last initialized round and the block hashes of it and the one before), the
active pool, this node's activity and the gas price, then calls the new-block subscribers (the
redeemer, the receiver's nonce pruning). Sender info is read on demand and cached for the block.
So every method payments call per request answers from memory.

Faults: a failed poll is logged with its reason and retried after a doubling delay (up to
`max_backoff_s`); a head whose parent is not the block we hold is a reorg, logged with its depth.
When no new block has come for `stale_after_s`, the view is stale: `gas_price_wei` raises
ChainError saying why, so no ticket params are issued on old data (quotes fail with that reason)
until blocks flow again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.types import RPCEndpoint

from lpengine.chain.contracts import Contracts
from lpengine.chain.networks import Network
from lpengine.pm.address import checksum
from lpengine.pm.chainview import ChainError, SenderInfo

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 5.0
STALE_AFTER_S = 300.0
MAX_BACKOFF_S = 60.0
REORG_DEPTH = 20
"""Block headers kept to detect and measure reorgs (go keeps 20)."""


@dataclass(frozen=True)
class ViewSettings:
    poll_interval_s: float = POLL_INTERVAL_S
    stale_after_s: float = STALE_AFTER_S  # 0: never stale
    max_backoff_s: float = MAX_BACKOFF_S
    min_gas_price_wei: int = 0  # -minGasPrice
    max_gas_price_wei: int = 0  # -maxGasPrice; 0: none

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0 or self.max_backoff_s < self.poll_interval_s:
            raise ValueError("poll_interval_s: expected > 0 and <= max_backoff_s")
        if self.stale_after_s < 0:
            raise ValueError(f"stale_after_s: expected >= 0, got {self.stale_after_s}")
        if self.min_gas_price_wei < 0 or self.max_gas_price_wei < 0:
            raise ValueError("minGasPrice, maxGasPrice: expected >= 0")
        if self.max_gas_price_wei and self.max_gas_price_wei < self.min_gas_price_wei:
            raise ValueError(
                f"maxGasPrice ({self.max_gas_price_wei}) is below minGasPrice "
                f"({self.min_gas_price_wei})"
            )


@dataclass(frozen=True)
class Head:
    number: int  # the block number on this chain
    hash: bytes
    parent_hash: bytes
    l1_number: int  # the L1 block number (the number itself on L1 chains)


class EthChainView:
    def __init__(
        self,
        w3: Web3,
        network: Network,
        contracts: Contracts,
        *,
        orchestrator: bytes,
        settings: ViewSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.w3 = w3
        self.network = network
        self.contracts = contracts
        self.orchestrator = orchestrator
        self.settings = settings or ViewSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._heads: deque[Head] = deque(maxlen=REORG_DEPTH)
        self._new_block_at = clock()
        self._round = 0
        self._round_hash = b"\x00" * 32
        self._pre_round_hash = b"\x00" * 32
        self._pool_size = 0
        self._active = False
        self._network_gas_price = 0
        self._senders: dict[bytes, tuple[int, SenderInfo]] = {}
        self._claimed: dict[tuple[bytes, bytes], tuple[int, int]] = {}
        self._subscribers: list[Callable[[int], None]] = []
        self.last_error: str | None = None
        self.reorgs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        chain_id = self._call(lambda: int(w3.eth.chain_id), "eth_chainId")
        if chain_id != network.chain_id:
            raise ChainError(
                f"ethUrl: chain id {chain_id} is not {network.name}'s ({network.chain_id})"
            )
        self.poll()  # NOTE: the first read must succeed: a node starts on real data or not at all

    # --- ChainView ----------------------------------------------------------------------

    def last_seen_l1_block(self) -> int:
        with self._lock:
            return self._heads[-1].l1_number

    def last_initialized_round(self) -> int:
        return self._round

    def last_initialized_l1_block_hash(self) -> bytes:
        return self._round_hash

    def pre_last_initialized_l1_block_hash(self) -> bytes:
        return self._pre_round_hash

    def transcoder_pool_size(self) -> int:
        return self._pool_size

    def gas_price_wei(self) -> int:
        """The network's gas price within [-minGasPrice, -maxGasPrice]; raises ChainError while
        the view is stale (the params issuer's first read: no params on old data)."""
        if (reason := self.stale_reason()) is not None:
            raise ChainError(reason)
        return self.clamp_gas_price(self._network_gas_price)

    def sender_info(self, sender: bytes) -> SenderInfo:
        block = self.last_seen_block()
        cached = self._senders.get(sender)
        if cached is not None and cached[0] == block:
            return cached[1]
        fn = self.contracts.ticket_broker.functions.getSenderInfo(checksum(sender))
        (deposit, withdraw_round), (funds, claimed) = self._call(fn.call, "getSenderInfo")
        info = SenderInfo(deposit, withdraw_round, funds, claimed)
        self._senders[sender] = (block, info)
        return info

    def claimed_reserve(self, sender: bytes, claimant: bytes) -> int:
        block = self.last_seen_block()
        cached = self._claimed.get((sender, claimant))
        if cached is not None and cached[0] == block:
            return cached[1]
        fn = self.contracts.ticket_broker.functions.claimedReserve(
            checksum(sender), checksum(claimant)
        )
        claimed = int(self._call(fn.call, "claimedReserve"))
        self._claimed[(sender, claimant)] = (block, claimed)
        return claimed

    def is_active(self, orchestrator: bytes, round_number: int) -> bool:
        if orchestrator == self.orchestrator:
            return self._active
        fn = self.contracts.bonding_manager.functions.isActiveTranscoder(checksum(orchestrator))
        return bool(self._call(fn.call, "isActiveTranscoder"))

    # --- beyond ChainView ---------------------------------------------------------------

    def last_seen_block(self) -> int:
        """The newest block number of this chain (the L1 number is `last_seen_l1_block`)."""
        with self._lock:
            return self._heads[-1].number

    def network_gas_price_wei(self) -> int:
        """eth_gasPrice as last read, unclamped."""
        return self._network_gas_price

    def clamp_gas_price(self, price_wei: int) -> int:
        s = self.settings
        price_wei = max(price_wei, s.min_gas_price_wei)
        return min(price_wei, s.max_gas_price_wei) if s.max_gas_price_wei else price_wei

    def stale_reason(self) -> str | None:
        """Why the view must not be trusted now, or None."""
        limit = self.settings.stale_after_s
        idle_s = self._clock() - self._new_block_at
        if not limit or idle_s <= limit:
            return None
        why = f"; last error: {self.last_error}" if self.last_error else ""
        return (
            f"chain view is stale: no new block for {idle_s:.0f} s (limit {limit:g} s, last "
            f"block {self.last_seen_block()}){why}"
        )

    def forget_sender(self, sender: bytes) -> None:
        """Drops cached reads of `sender` (after a redemption changed them)."""
        self._senders.pop(sender, None)
        for key in [k for k in self._claimed if k[0] == sender]:
            self._claimed.pop(key, None)

    def subscribe(self, on_block: Callable[[int], None]) -> None:
        """Calls `on_block(block number)` from the watcher thread after each new block."""
        self._subscribers.append(on_block)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lpengine-chain", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def describe(self) -> dict[str, Any]:
        return {
            "network": self.network.name,
            "block": self.last_seen_block(),
            "l1_block": self.last_seen_l1_block(),
            "round": self._round,
            "round_block_hash": "0x" + self._round_hash.hex(),
            "gas_price_wei": self._network_gas_price,
            "active": self._active,
            "pool_size": self._pool_size,
            "reorgs": self.reorgs,
            "stale": self.stale_reason(),
            "last_error": self.last_error,
        }

    # --- the watcher --------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.settings.poll_interval_s
        while not self._stop.wait(delay):
            try:
                new = self.poll()
            except ChainError as err:
                delay = min(delay * 2, self.settings.max_backoff_s)
                log.warning("chain: %s; next try in %.1f s", err, delay)
                continue
            except Exception:  # a bug must not stop the watcher: log it, back off, go on
                log.exception("chain: poll failed")
                delay = min(delay * 2, self.settings.max_backoff_s)
                continue
            delay = self.settings.poll_interval_s
            if new is not None:
                for on_block in list(self._subscribers):
                    try:
                        on_block(new)
                    except Exception:
                        log.exception("chain: new-block subscriber failed")

    def poll(self) -> int | None:
        """Reads the head; on a new block refreshes the cached state. Returns the new block
        number, or None when the head has not moved. Raises ChainError."""
        head = self._head("latest")
        with self._lock:
            last = self._heads[-1] if self._heads else None
        if last is not None and head.hash == last.hash:
            return None
        if last is not None and not self._extends(head, last):
            self._on_reorg(head)
        self._refresh()
        with self._lock:
            while self._heads and self._heads[-1].number >= head.number:
                self._heads.pop()
            self._heads.append(head)
            self._new_block_at = self._clock()
        self.last_error = None
        return head.number

    def _extends(self, head: Head, last: Head) -> bool:
        """Whether `head` is on the chain of the newest block held."""
        if head.number == last.number + 1:
            return head.parent_hash == last.hash
        if head.number <= last.number:
            return False
        return self._head(hex(last.number)).hash == last.hash

    def _on_reorg(self, head: Head) -> None:
        """Drops the held blocks the new chain no longer has, and says how deep it went."""
        with self._lock:
            held = list(self._heads)
        depth = 0
        for old in reversed(held):
            if old.number >= head.number:
                depth += 1
                continue
            if self._head(hex(old.number)).hash == old.hash:
                break
            depth += 1
        self.reorgs += 1
        log.warning("chain: reorg of the last %d block(s) below block %d", depth, head.number)
        with self._lock:
            for _ in range(min(depth, len(self._heads) - 1)):
                self._heads.pop()

    def _refresh(self) -> None:
        rounds = self.contracts.rounds_manager.functions
        bonding = self.contracts.bonding_manager.functions
        round_number = int(self._call(rounds.lastInitializedRound().call, "lastInitializedRound"))
        round_hash = bytes(self._call(rounds.blockHashForRound(round_number).call, "round hash"))
        pre_hash = (
            bytes(self._call(rounds.blockHashForRound(round_number - 1).call, "round hash"))
            if round_number > 0
            else b"\x00" * 32
        )
        pool_size = int(self._call(bonding.getTranscoderPoolSize().call, "pool size"))
        active = bool(
            self._call(bonding.isActiveTranscoder(checksum(self.orchestrator)).call, "active")
        )
        gas_price = int(self._call(lambda: self.w3.eth.gas_price, "eth_gasPrice"))
        if round_number != self._round:
            log.info("chain: round %d (block hash 0x%s)", round_number, round_hash.hex())
        if active != self._active:
            log.info("chain: %s is %sactive", checksum(self.orchestrator), "" if active else "in")
        self._round, self._round_hash, self._pre_round_hash = round_number, round_hash, pre_hash
        self._pool_size, self._active, self._network_gas_price = pool_size, active, gas_price

    def _head(self, block: str) -> Head:

        def read() -> dict[str, Any]:
            raw = self.w3.provider.make_request(RPCEndpoint("eth_getBlockByNumber"), [block, False])
            result = raw.get("result")
            if not isinstance(result, dict):  # a JSON-RPC error answer, or no such block
                raise ChainError(f"no block {block} in {raw!r:.200}")
            return result

        result = self._call(read, "eth_getBlockByNumber")
        number = int(result["number"], 16)
        field = self.network.l1_block_field
        l1 = int(result[field], 16) if field and result.get(field) else number
        return Head(
            number, bytes.fromhex(result["hash"][2:]), bytes.fromhex(result["parentHash"][2:]), l1
        )

    def _call(self, fn: Callable[[], Any], what: str) -> Any:
        """fn() with every failure as ChainError naming `what` (and remembered for /status)."""
        try:
            return fn()
        except ChainError as err:
            self.last_error = f"{what}: {err}"
            raise ChainError(self.last_error) from None
        except Exception as err:
            self.last_error = f"{what}: {type(err).__name__}: {err}"
            raise ChainError(self.last_error) from err
