"""Dynamic batching across requests: one worker thread per loaded model.

Items queue up; the worker takes the oldest, adds queued items with the same key up to
`max_batch_size`, waits at most `max_wait_ms` for more while the batch is short, runs the batch
as one model call and hands each item its own result. While a batch runs, new items queue, so
under load batches fill without any wait (ai-runner runs one image at a time).

    batcher = Batcher(run, max_batch_size=8, max_wait_ms=5, name="text-to-image/sd")
    futures = batcher.submit(items)  # concurrent.futures.Future[Done] per item
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from lpengine.ai.pipelines.base import Item

log = logging.getLogger(__name__)

RunBatch = Callable[[Sequence[Item]], list[Any]]


@dataclass(frozen=True)
class Done:
    """An item's result and its batch: which (`batch`, counted from 1), how many items it
    held, when it started (`time.perf_counter()`) and how long the model call took."""

    result: Any
    batch: int
    size: int
    started: float
    model_s: float


class Batcher:
    def __init__(self, run: RunBatch, max_batch_size: int, max_wait_ms: float, name: str) -> None:
        if max_batch_size < 1 or max_wait_ms < 0:
            raise ValueError(
                f"batching of {name}: expected max_batch_size >= 1 and max_wait_ms >= 0, "
                f"got {max_batch_size} and {max_wait_ms}"
            )
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1e3
        self.name = name
        self.batches = 0  # model calls made
        self.items = 0  # items run
        self._run = run
        self._queue: deque[tuple[Item, Future[Done]]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"batcher {name}", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[Item]) -> list[Future[Done]]:
        futures: list[Future[Done]] = [Future() for _ in items]
        with self._cond:
            if self._closed:
                raise RuntimeError(f"{self.name} is unloaded")
            self._queue.extend(zip(items, futures, strict=True))
            self._cond.notify()
        return futures

    def close(self) -> None:
        """Stops taking items; what is queued fails. Safe to call from the worker itself."""
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self._cond.notify()
        for _, future in left:
            future.set_exception(RuntimeError(f"{self.name} was unloaded"))
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _take(self) -> list[tuple[Item, Future[Done]]] | None:
        """The next batch (NOTE: under the condition), or None once closed."""
        while not self._queue and not self._closed:
            self._cond.wait()
        if self._closed:
            return None
        batch = [self._queue.popleft()]
        key = batch[0][0].key
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch_size:
            same = next((e for e in self._queue if e[0].key == key), None)
            if same is not None:
                self._queue.remove(same)
                batch.append(same)
                continue
            left = deadline - time.monotonic()
            if left <= 0 or self._closed:
                break
            self._cond.wait(left)
        return batch

    def _loop(self) -> None:
        while True:
            with self._cond:
                batch = self._take()
            if batch is None:
                return
            live = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
            if not live:
                continue
            started = time.perf_counter()
            try:
                results = self._run([item for item, _ in live])
            except BaseException as err:  # every item of the batch fails with the cause
                for _, future in live:
                    future.set_exception(err)
                continue
            model_s = time.perf_counter() - started
            self.batches += 1
            self.items += len(live)
            for (_, future), result in zip(live, results, strict=True):
                future.set_result(Done(result, self.batches, len(live), started, model_s))
