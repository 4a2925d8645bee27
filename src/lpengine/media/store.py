"""RenditionStore: the renditions gateways download, in memory, bounded in total size.

go-livepeer's default object store for transcode results is an in-memory one that O serves at
`/stream/<session>/<profile>/<seq>.<ext>` (protocol.md §4.2); a gateway fetches each rendition
once, right after the TranscodeResult. Here the oldest-used renditions make room for new ones
(LRU), so memory stays under `max_bytes` however many streams come and go.

    store = RenditionStore(max_bytes=256 << 20)
    store.put("1a2b3c4d/P360p30fps16x9/7.ts", data)
    store.get("1a2b3c4d/P360p30fps16x9/7.ts")  # None once evicted
"""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT_STORE_BYTES = 512 << 20  # ~ 2 s x 10 renditions x 60 streams at 4 Mbps


class RenditionStore:
    def __init__(self, max_bytes: int = DEFAULT_STORE_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes: expected > 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evicted = 0  # renditions dropped to make room (an operator's sizing signal)

    def put(self, key: str, data: bytes) -> bool:
        """Stores `data` under `key` (replacing it); returns False when it alone exceeds the
        bound (nothing is evicted for it then)."""
        if len(data) > self.max_bytes:
            return False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            while self._bytes + len(data) > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)
                self.evicted += 1
            self._items[key] = data
            self._bytes += len(data)
        return True

    def get(self, key: str) -> bytes | None:
        """The rendition, or None when it was never stored or has been evicted."""
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
