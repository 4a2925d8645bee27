"""The model manager: which models this node runs, loaded when and where, and how busy.

Every aiModels entry whose pipeline lpengine runs gets a slot: `capacity` concurrent requests
(reserved before payment, released after the job), warm ones loaded at start, cold ones on their
first request (the load time is logged and shown in `describe`). Loading counts the model's
memory against a budget (90 % of the GPU's, or half the host's RAM on CPU); a model that does not
fit first evicts idle loaded models, least recently used and cold before warm, else fails with
the route's out-of-memory 500. Out-of-memory while running unloads the model (its memory is
released; the next request loads it again). Every change republishes the offer "ai" in the
capability registry: per model warm (loaded), capacity (free slots) and capacityInUse.

The image pipelines share one safety checker (`lpengine.ai.safety_checker`), loaded with the
first of them and unloaded with the last, its memory counted with theirs.

Batching and runtime options per model come from the entry's `optimization_flags`
(`lpengine.ai.runtime`): `max_batch_size` (default 1: one request at a time, as ai-runner),
`max_wait_ms` (default 0: batch only what is queued), the dtype and the compilers. An entry
with a bad flag is not advertised (in `unsupported`, naming the flag).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from lpengine.ai.batcher import Batcher
from lpengine.ai.errors import AIError, OutOfMemory, is_oom
from lpengine.ai.model_config import AIModelConfig
from lpengine.ai.model_dir import ModelNotFound, snapshot_dir, weights_bytes
from lpengine.ai.pipelines import PIPELINES, Item, Pipeline, Prepared
from lpengine.ai.runtime import Optimizations, optimize, parse_flags
from lpengine.ai.safety_checker import SafetyChecker
from lpengine.capability_registry import CapabilityRegistry, ModelOffer, Offer

log = logging.getLogger(__name__)
SOURCE = "ai"
LIVE = "live-video-to-video"


@dataclass(frozen=True)
class Ran:
    """A request's results and where its time went: waiting for the model (`queue_s`, from
    submission to its first batch), in model calls (`model_s`, its batches summed)."""

    results: list[Any]
    queue_s: float
    model_s: float
    batch_sizes: tuple[int, ...]


class NoCapacity(Exception):
    def __init__(self) -> None:
        super().__init__("insufficient capacity")


@dataclass
class ModelSlot:
    config: AIModelConfig
    pipeline: type[Pipeline]
    options: Optimizations = field(default_factory=Optimizations)
    applied: tuple[str, ...] = ()  # the compilers applied when it was loaded
    in_use: int = 0
    model: Pipeline | None = None
    batcher: Batcher | None = None
    last_used: float = 0.0
    load_s: float | None = None
    load_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return f"{self.config.pipeline}/{self.config.model_id}"

    @property
    def max_batch_size(self) -> int:
        return self.options.max_batch_size if self.pipeline.batchable else 1

    @property
    def max_wait_ms(self) -> float:
        return self.options.max_wait_ms if self.pipeline.batchable else 0.0


class ModelManager:
    def __init__(
        self,
        models_dir: Path,
        configs: Sequence[AIModelConfig],
        registry: CapabilityRegistry,
        device: str | None = None,
        memory_budget_bytes: int | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.registry = registry
        self._device = device
        self._budget = memory_budget_bytes
        self._lock = threading.Lock()
        self.slots: dict[tuple[str, str], ModelSlot] = {}
        self.unsupported: list[tuple[AIModelConfig, str]] = []  # (entry, why not run)
        self.safety = SafetyChecker(models_dir)
        for c in configs:
            if c.pipeline == LIVE:
                continue  # NOTE: live runners advertise themselves (lpengine.live)
            if c.url:
                self.unsupported.append((c, "external runners (url) are not built yet"))
            elif c.pipeline not in PIPELINES:
                self.unsupported.append((c, f"lpengine cannot run {c.pipeline} pipelines yet"))
            elif (missing := _missing(models_dir, c.model_id)) is not None:
                self.unsupported.append((c, missing))
            else:
                try:
                    options = parse_flags(c.optimization_flags, f"aiModels {c.model_id}")
                except ValueError as err:
                    self.unsupported.append((c, str(err)))
                    continue
                slot = ModelSlot(c, PIPELINES[c.pipeline], options)
                self.slots[(c.pipeline, c.model_id)] = slot
        self._publish()

    @property
    def device(self) -> str:
        if self._device is None:
            import torch

            self._device = "cuda" if torch.cuda.is_available() else "cpu"
        return self._device

    @property
    def memory_budget_bytes(self) -> int:
        if self._budget is None:
            if self.device.startswith("cuda"):
                import torch

                self._budget = int(torch.cuda.mem_get_info()[1] * 0.9)
            else:
                self._budget = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
        return self._budget

    @property
    def memory_used_bytes(self) -> int:
        models = sum(s.model.memory_bytes for s in self.slots.values() if s.model is not None)
        return models + self.safety.memory_bytes

    def start(self) -> None:
        """Loads the warm models; one that fails is logged and stays cold (retried on use)."""
        for slot in self.slots.values():
            if slot.config.warm:
                try:
                    self._ensure_loaded(slot)
                except Exception as err:
                    log.error("warm model %s not loaded: %s", slot.name, err)

    def slot(self, pipeline: str, model_id: str) -> ModelSlot:
        """The slot of (pipeline, model); AIError 400 in ai-runner's words when not served."""
        if not model_id:
            raise AIError(400, "model_id: required (the model to run)")
        slot = self.slots.get((pipeline, model_id))
        if slot is None:
            served = ", ".join(m for p, m in self.slots if p == pipeline) or "no model"
            end = "" if pipeline == "llm" else "."  # NOTE: ai-runner's llm text has no period
            raise AIError(400, f"pipeline configured with {served} but called with {model_id}{end}")
        return slot

    def prepare(self, slot: ModelSlot, params: dict[str, Any]) -> Prepared:
        """The pipeline's `prepare`, then what needs the models dir: each LoRA it names is
        there (AIError 400 in ai-runner's words). Before any payment; no model loaded."""
        prepared = slot.pipeline.prepare(params)
        for repo in prepared.loras:
            if _missing(self.models_dir, repo) is not None:
                raise AIError(400, f"LoRa repository '{repo}' not found")
        return prepared

    def reserve(self, slot: ModelSlot) -> None:
        """Takes one of the slot's `capacity` places; NoCapacity when all are taken."""
        with self._lock:
            if slot.in_use >= slot.config.capacity:
                raise NoCapacity()
            slot.in_use += 1
        self._publish()

    def release(self, slot: ModelSlot) -> None:
        with self._lock:
            slot.in_use = max(0, slot.in_use - 1)
            slot.last_used = time.monotonic()
        self._publish()

    def run(self, slot: ModelSlot, items: Sequence[Item]) -> Ran:
        """The items' results (blocking: loads the model if cold, then waits for its batches)."""
        batcher = self._ensure_loaded(slot)
        submitted = time.perf_counter()
        done = [f.result() for f in batcher.submit(items)]
        batches = {d.batch: d for d in done}.values()
        return Ran(
            [d.result for d in done],
            queue_s=max(0.0, min(d.started for d in done) - submitted),
            model_s=sum(d.model_s for d in batches),
            batch_sizes=tuple(d.size for d in batches),
        )

    def _ensure_loaded(self, slot: ModelSlot) -> Batcher:
        with slot.lock:
            if slot.model is not None and slot.batcher is not None:
                return slot.batcher
            folder = snapshot_dir(self.models_dir, slot.config.model_id)
            self._make_room(weights_bytes(folder), slot)
            start = time.perf_counter()
            try:
                model = slot.pipeline(folder, self.device, slot.options)
                if slot.pipeline.checks_safety:
                    self.safety.load(self.device)  # NOTE: once; later loads return at once
                    model.safety = self.safety
                slot.applied = tuple(
                    optimize(model.compile_targets(), self.device, slot.options, slot.name)
                )
            except Exception as err:
                slot.load_error = str(err)
                raise
            slot.load_s = time.perf_counter() - start
            slot.load_error = ""
            slot.model = model
            run = partial(self._run_batch, slot, model)
            slot.batcher = Batcher(run, slot.max_batch_size, slot.max_wait_ms, slot.name)
            log.info("loaded %s on %s in %.2f s (%d MB, %s; %s)", slot.name, self.device,
                     slot.load_s, model.memory_bytes >> 20, model.dtype_name,
                     "warm" if slot.config.warm else "cold, on first request")  # fmt: skip
        self._publish()
        return slot.batcher

    def _run_batch(self, slot: ModelSlot, model: Pipeline, items: Sequence[Item]) -> list[Any]:
        try:
            return model.run(items, slot.max_batch_size)
        except BaseException as err:
            if is_oom(err):
                log.error("%s ran out of memory on a batch of %d; unloading it: %s",
                          slot.name, len(items), err)  # fmt: skip
                err.__traceback__ = None  # NOTE: its frames hold the batch's tensors
                self._unload(slot)
            raise

    def _make_room(self, need_bytes: int, keep: ModelSlot) -> None:
        """Evicts idle loaded models until `need_bytes` fit (and the safety checker, for an image
        model, when it is not loaded: evicting the last image model unloads it); OutOfMemory
        when they cannot."""

        def need() -> int:
            return need_bytes + (self.safety.pending_bytes() if keep.pipeline.checks_safety else 0)

        with self._lock:
            while self.memory_used_bytes + need() > self.memory_budget_bytes:
                idle = [s for s in self.slots.values()
                        if s.model is not None and s.in_use == 0 and s is not keep]  # fmt: skip
                if not idle:
                    raise OutOfMemory(
                        f"{keep.name} needs {need() >> 20} MB; {self.memory_used_bytes >> 20}"
                        f" of {self.memory_budget_bytes >> 20} MB are held by busy models"
                    )
                victim = min(idle, key=lambda s: (s.config.warm, s.last_used))
                log.info("evicting %s to make room for %s", victim.name, keep.name)
                self._unload(victim)

    def _unload(self, slot: ModelSlot) -> None:
        batcher, model = slot.batcher, slot.model
        slot.batcher = slot.model = None
        if batcher is not None:
            batcher.close()
        if model is not None:
            model.close()
        if not any(s.model is not None for s in self.slots.values() if s.pipeline.checks_safety):
            self.safety.close()  # NOTE: held while an image model is; the next one reloads it
        self._publish()

    def _publish(self) -> None:
        if not self.slots:
            self.registry.withdraw(SOURCE)
            return
        capacities: dict[int, int] = {}
        models = []
        for s in self.slots.values():
            cap = int(s.pipeline.capability)
            capacities[cap] = capacities.get(cap, 0) + s.config.capacity
            models.append(ModelOffer(cap, s.config.model_id, warm=s.model is not None,
                                     capacity=s.config.capacity - s.in_use,
                                     capacity_in_use=s.in_use))  # fmt: skip
        self.registry.publish(SOURCE, Offer(capacities, tuple(models)))

    def describe(self) -> dict[str, Any]:
        return {
            s.name: {
                "loaded": s.model is not None,
                "warm": s.config.warm,
                "capacity": s.config.capacity,
                "in_use": s.in_use,
                "load_s": s.load_s,
                "load_error": s.load_error or None,
                "max_batch_size": s.max_batch_size,
                "dtype": s.model.dtype_name if s.model is not None else None,
                "compiled": list(s.applied),
                "batches": s.batcher.batches if s.batcher else 0,
                "safety_checker": self.safety.state if s.pipeline.checks_safety else None,
                "loras": _loras(s.model),
            }
            for s in self.slots.values()
        }

    def close(self) -> None:
        for slot in self.slots.values():
            with slot.lock:
                self._unload(slot)
        self.safety.close()


def _loras(model: Pipeline | None) -> dict[str, float] | None:
    """The LoRA adapters loaded into `model` (repo -> seconds its load took), least recently
    used first; None for a model that takes none."""
    adapters = getattr(model, "adapters", None)
    if adapters is None:
        return None
    load_s = dict(adapters.load_s)  # NOTE: the batcher thread changes them; copies are atomic
    return {repo: round(load_s.get(repo, 0.0), 3) for repo in adapters.loaded}


def _missing(models_dir: Path, model_id: str) -> str | None:
    """Why `model_id` cannot be served from `models_dir`, or None when its folder is there."""
    try:
        snapshot_dir(models_dir, model_id)
    except ModelNotFound as err:
        return str(err)
    return None
