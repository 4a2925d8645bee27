"""RenditionStore: the renditions gateways download, in memory, bounded in total size.

go-livepeer's default object store for transcode results is an in-memory one that O serves at
`/stream/<session>/<profile>/<seq>.<ext>` (protocol.md §4.2); a gateway fetches each rendition
once, right after the TranscodeResult. Here the oldest-used renditions make room for new ones
(LRU), so memory stays under `max_bytes` however many streams come and go. With `ttl_s`, an
item is also gone that long after it was stored (AI results: go keeps them 10 minutes).

    store = RenditionStore(max_bytes=256 << 20)
    store.put("1a2b3c4d/P360p30fps16x9/7.ts", data)
    store.get("1a2b3c4d/P360p30fps16x9/7.ts")  # None once evicted
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

DEFAULT_STORE_BYTES = 512 << 20  # ~ 2 s x 10 renditions x 60 streams at 4 Mbps


class RenditionStore:
    def __init__(self, max_bytes: int = DEFAULT_STORE_BYTES, ttl_s: float | None = None) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes: expected > 0, got {max_bytes}")
        if ttl_s is not None and ttl_s <= 0:
            raise ValueError(f"ttl_s: expected > 0, got {ttl_s}")
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._stored_at: dict[str, float] = {}  # with a ttl: key -> time.monotonic() of put
        self._bytes = 0
        self._lock = threading.Lock()
        self.evicted = 0  # renditions dropped to make room (an operator's sizing signal)

    def put(self, key: str, data: bytes) -> bool:
        """Stores `data` under `key` (replacing it); returns False when it alone exceeds the
        bound (nothing is evicted for it then)."""
        if len(data) > self.max_bytes:
            return False
        with self._lock:
            self._drop(key)
            while self._bytes + len(data) > self.max_bytes:
                self._drop(next(iter(self._items)))
                self.evicted += 1
            self._items[key] = data
            self._bytes += len(data)
            if self.ttl_s is not None:
                self._stored_at[key] = time.monotonic()
                self._expire()
        return True

    def get(self, key: str) -> bytes | None:
        """The rendition, or None when it was never stored or has been evicted."""
        with self._lock:
            if self.ttl_s is not None:
                self._expire()
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def _drop(self, key: str) -> None:
        data = self._items.pop(key, None)
        if data is not None:
            self._bytes -= len(data)
            self._stored_at.pop(key, None)

    def _expire(self) -> None:
        """Drops what was stored more than ttl_s ago (NOTE: under the lock; `_stored_at` is in
        storing order, so only its expired head is looked at)."""
        assert self.ttl_s is not None
        deadline = time.monotonic() - self.ttl_s
        while self._stored_at:
            key, at = next(iter(self._stored_at.items()))
            if at > deadline:
                return
            self._drop(key)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
