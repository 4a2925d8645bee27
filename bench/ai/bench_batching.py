"""Dynamic batching vs one request at a time (ai-runner's behaviour), in the same run.

The tiny text-to-image model at 64x64 (lpengine.testing), N concurrent requests from threads
into the model manager: throughput with `max_batch_size` = N against `max_batch_size` = 1, and
the per-request overhead outside the model (response time minus the time of its batch) p50/p99.

    python -m bench.ai.bench_batching            # 16 concurrent requests, 4 steps
    python -m bench.ai.bench_batching --smoke    # 4 requests, 1 step
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import check, emit, machine
from lpengine.ai.api import ROUTES, parse
from lpengine.ai.manager import ModelManager
from lpengine.ai.model_config import AIModelConfig
from lpengine.capability_registry import CapabilityRegistry
from lpengine.testing import TINY_MODELS, write_tiny_models

SD = TINY_MODELS["text-to-image"]


def _round(root: Path, requests: int, batch: int, steps: int) -> dict[str, Any]:
    config = AIModelConfig("text-to-image", SD, warm=True, capacity=requests,
                           optimization_flags={"max_batch_size": batch})  # fmt: skip
    manager = ModelManager(root, [config], CapabilityRegistry("0"), device=None)
    manager.start()
    slot = manager.slot("text-to-image", SD)
    # NOTE: the batch function is timed around the model call to split model time from overhead.
    assert slot.model is not None and slot.batcher is not None
    model, model_s = slot.model, {}
    inner = model.run

    def timed(items: Any, pad_to: int) -> list[Any]:
        start = time.perf_counter()
        out = inner(items, pad_to)
        for it in items:
            model_s[it.inputs["seed"]] = time.perf_counter() - start
        return out

    model.run = timed  # type: ignore[method-assign]
    fields = {"model_id": SD, "prompt": "a cat", "width": 64, "height": 64,
              "num_inference_steps": steps}  # fmt: skip
    manager.run(slot, slot.pipeline.prepare(parse(ROUTES["text-to-image"], fields, False)).items)
    overhead_ms: list[float] = []
    barrier = threading.Barrier(requests)

    def one(i: int) -> None:
        prepared = slot.pipeline.prepare(
            parse(ROUTES["text-to-image"], {**fields, "seed": 1000 + i}, False)
        )
        barrier.wait()
        start = time.perf_counter()
        manager.reserve(slot)
        results = manager.run(slot, prepared.items)
        slot.pipeline.respond(prepared, results)
        manager.release(slot)
        overhead_ms.append((time.perf_counter() - start - model_s[1000 + i]) * 1e3)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(requests)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall_s = time.perf_counter() - start
    batches = slot.batcher.batches - 1
    manager.close()
    check(len(overhead_ms) == requests, "every request must finish")
    return {"wall_s": wall_s, "batches": batches, "overhead_ms": sorted(overhead_ms)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--smoke", action="store_true", help="4 requests, 1 step (run by the tests)")
    p.add_argument("--requests", type=int, default=16)
    p.add_argument("--steps", type=int, default=4)
    a = p.parse_args()
    requests, steps = (4, 1) if a.smoke else (a.requests, a.steps)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tiny_models(root)
        alone = _round(root, requests, 1, steps)
        batched = _round(root, requests, requests, steps)
    # NOTE: the batched round waits for queue-in, the time ai-runner's gateway queue would add
    check(alone["batches"] == requests, "unbatched must run one request per model call")
    over = batched["overhead_ms"]
    emit({
        "bench": "ai_batching", "machine": machine(), "model": SD, "size": "64x64",
        "steps": steps, "concurrency": requests,
        "unbatched_req_per_s": requests / alone["wall_s"],
        "batched_req_per_s": requests / batched["wall_s"],
        "batched_model_calls": batched["batches"],
        "overhead_ms_p50": statistics.median(over),
        "overhead_ms_p99": over[min(len(over) - 1, int(0.99 * len(over)))],
        "speedup_vs_unbatched": alone["wall_s"] / batched["wall_s"],
    })  # fmt: skip


if __name__ == "__main__":
    main()
