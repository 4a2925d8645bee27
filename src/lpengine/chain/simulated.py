"""`-network simulated`: an in-process chain for tests and demos. Never for money.

It implements `lpengine.pm.ChainView` by rules anyone can predict, so payments run end to end
without an Ethereum node:
- L1 blocks follow the wall clock, one every 12 s (block = unix time // 12), plus the blocks the
  operator mines (`POST /simulated/mine`): numbers keep rising across restarts and ticket params
  expire as they would on Ethereum (40 blocks, 8 minutes);
- a round is 5760 blocks; round r is initialized with the block hash
  keccak256("lpengine simulated round" ‖ pad32(r)), the same after a restart;
- gas costs 1 gwei, so a ticket's face value is 1.2M gas * 1 gwei * 100 = 0.12 ETH and quotes
  carry go's +1 % overhead;
- a sender has the deposit and reserve the operator set (`POST /simulated/fund`), else none, and
  is refused with `insufficient sender reserve` as on a real chain;
- this orchestrator is always active and alone in the pool (its share is the whole reserve).
What the operator sets is kept in <dataDir>/simulated-chain.json. Nothing here reaches a network,
a contract or real ETH: the tickets it accepts can never be redeemed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lpengine.pm import address
from lpengine.pm.chainview import SenderInfo
from lpengine.pm.keccak import keccak256

BLOCK_TIME_S = 12
ROUND_LENGTH_BLOCKS = 5760
GAS_PRICE_WEI = 10**9
STATE_FILE = "simulated-chain.json"
_ROUND_LABEL = b"lpengine simulated round"


def round_block_hash(round_number: int) -> bytes:
    """The block hash round `round_number` is initialized with (32 bytes, never zero)."""
    return keccak256(_ROUND_LABEL + max(round_number, 0).to_bytes(32, "big"))


class SimulatedChain:
    """A ChainView whose blocks follow `clock` and whose senders the operator funds."""

    def __init__(self, data_dir: Path | None, *, clock: Callable[[], float] = time.time) -> None:
        self._path = data_dir / STATE_FILE if data_dir is not None else None
        self._clock = clock
        self._lock = threading.Lock()
        self._mined = 0
        self._senders: dict[bytes, SenderInfo] = {}
        self._last_block = 0
        if self._path is not None and self._path.exists():
            self._load(json.loads(self._path.read_text(encoding="utf-8")))

    # --- ChainView ----------------------------------------------------------------------

    def last_seen_l1_block(self) -> int:
        block = int(self._clock() // BLOCK_TIME_S) + self._mined
        with self._lock:
            # NOTE: never backwards, even when the system clock is set back.
            self._last_block = max(self._last_block, block)
            return self._last_block

    def last_initialized_round(self) -> int:
        return self.last_seen_l1_block() // ROUND_LENGTH_BLOCKS

    def last_initialized_l1_block_hash(self) -> bytes:
        return round_block_hash(self.last_initialized_round())

    def pre_last_initialized_l1_block_hash(self) -> bytes:
        return round_block_hash(self.last_initialized_round() - 1)

    def transcoder_pool_size(self) -> int:
        return 1

    def gas_price_wei(self) -> int:
        return GAS_PRICE_WEI

    def sender_info(self, sender: bytes) -> SenderInfo:
        with self._lock:
            return self._senders.get(sender, SenderInfo())

    def claimed_reserve(self, sender: bytes, claimant: bytes) -> int:
        return 0  # nothing is ever redeemed here

    def is_active(self, orchestrator: bytes, round_number: int) -> bool:
        return True

    # --- what the operator sets ---------------------------------------------------------

    def fund(
        self, sender: bytes, deposit_wei: int, reserve_wei: int, withdraw_round: int = 0
    ) -> SenderInfo:
        """Sets `sender`'s deposit and reserve (replacing what it had); kept across restarts."""
        if len(sender) != address.ADDRESS_BYTES:
            raise ValueError(f"sender: expected a 20-byte address, got {len(sender)} bytes")
        if min(deposit_wei, reserve_wei, withdraw_round) < 0:
            raise ValueError("deposit, reserve and withdrawRound: expected >= 0")
        info = SenderInfo(deposit_wei, withdraw_round, reserve_wei, 0)
        with self._lock:
            self._senders[sender] = info
            self._save()
        return info

    def mine(self, blocks: int) -> int:
        """Advances the chain by `blocks` L1 blocks at once; returns the new block number."""
        if blocks < 1:
            raise ValueError(f"blocks: expected >= 1, got {blocks}")
        with self._lock:
            self._mined += blocks
            self._save()
        return self.last_seen_l1_block()

    def describe(self) -> dict[str, Any]:
        block = self.last_seen_l1_block()
        with self._lock:
            senders = dict(self._senders)
        return {
            "network": "simulated",
            "block": block,
            "round": block // ROUND_LENGTH_BLOCKS,
            "round_block_hash": "0x" + round_block_hash(block // ROUND_LENGTH_BLOCKS).hex(),
            "gas_price_wei": GAS_PRICE_WEI,
            "mined_blocks": self._mined,
            "senders": _senders_doc(senders),
        }

    def _load(self, doc: dict[str, Any]) -> None:
        self._mined = int(doc.get("mined_blocks", 0))
        for sender, s in doc.get("senders", {}).items():
            self._senders[address.parse(sender)] = SenderInfo(
                int(s["deposit_wei"]), int(s["withdraw_round"]), int(s["reserve_wei"]), 0
            )

    def _save(self) -> None:
        """Writes the operator's settings atomically (call with the lock held)."""
        if self._path is None:
            return
        doc = {"mined_blocks": self._mined, "senders": _senders_doc(self._senders)}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)


def _senders_doc(senders: dict[bytes, SenderInfo]) -> dict[str, dict[str, Any]]:
    return {
        address.checksum(s): {
            "deposit_wei": str(i.deposit_wei),
            "reserve_wei": str(i.reserve_funds_remaining_wei),
            "withdraw_round": i.withdraw_round,
        }
        for s, i in sorted(senders.items())
    }
