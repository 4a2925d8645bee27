"""LoRA adapters on the diffusers pipelines (text-to-image, image-to-image), as ai-runner's
LoraLoader does it (ai-api.md §1), but only from the models dir: never the network.

A request's `loras` (`{"<repo>": weight}`, checked in `prepare`) becomes part of its items' batch
key, so one model call runs under one set of adapters and weights; the manager refuses a repo
that is not in the models dir before payment. When a batch runs, `Adapters.apply` loads the
adapters it lacks into the pipeline (once per model: they stay loaded, up to `max_loras`), sets
the batch's weights, and disables every adapter for a batch without loras.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lpengine.ai.model_dir import ModelNotFound, snapshot_dir, snapshot_origin

log = logging.getLogger(__name__)

FREE_VRAM_BYTES = 2 << 30  # evict idle adapters while less is free (ai-runner: 2.0 GB)

# (repo, weight) pairs in repo order: equal sets of loras batch together in one order.
LoraKey = tuple[tuple[str, float], ...]


class LoraLoadingError(Exception):
    """An adapter that did not load: 400 with this text and a period (ai-api.md §1.1)."""


def lora_key(loras: Mapping[str, float]) -> LoraKey:
    return tuple(sorted((repo, float(weight)) for repo, weight in loras.items()))


class Adapters:
    """The LoRA adapters loaded into one diffusers pipeline, least recently used first.

    NOTE: used from the model's batcher thread only: one batch at a time changes the
    pipeline's adapters, and the adapters stay as it set them until the next batch.
    """

    def __init__(self, pipe: Any, folder: Path, device: str, max_loaded: int) -> None:
        self._pipe = pipe
        self._root, self._model_id = snapshot_origin(folder)
        self._device = device
        self.max_loaded = max_loaded
        self._names: OrderedDict[str, str] = OrderedDict()  # repo -> adapter name
        self._made = 0  # adapter names handed out: lora0, lora1, …
        self.loads = 0  # adapters loaded so far (evicted ones load again when asked for)
        self.load_s: dict[str, float] = {}  # repo -> how long its last load took

    @property
    def loaded(self) -> list[str]:
        return list(self._names)

    def apply(self, loras: LoraKey) -> None:
        """Loads what `loras` lacks and sets their weights; with none, disables every adapter
        (the pipeline then runs as if none had ever been loaded)."""
        if not loras:
            if self._names:
                self._pipe.disable_lora()
            return
        wanted = [repo for repo, _ in loras]
        for repo in wanted:
            if repo in self._names:
                self._names.move_to_end(repo)
            else:
                self._evict(keep=wanted)
                self._load(repo)
        # NOTE: set_adapters does not undo disable_lora, and layers wrapped by a later load
        # start enabled while older ones stay disabled: enable every time.
        self._pipe.enable_lora()
        self._pipe.set_adapters(
            [self._names[repo] for repo in wanted], adapter_weights=[w for _, w in loras]
        )

    def _load(self, repo: str) -> None:
        if not hasattr(self._pipe, "load_lora_weights"):
            raise LoraLoadingError(f"LoRa incompatible with base model: '{self._model_id}'")
        try:
            folder = snapshot_dir(self._root, repo)
        except ModelNotFound:  # NOTE: checked before payment; gone from the disk since
            raise LoraLoadingError(f"LoRa repository '{repo}' not found") from None
        name = f"lora{self._made}"
        self._made += 1
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # NOTE: peft warns on every adapter past the first: diffusers' normal path.
                warnings.filterwarnings("ignore", "Already found a `peft_config`", UserWarning)
                self._pipe.load_lora_weights(str(folder), adapter_name=name, local_files_only=True)
        except Exception as err:
            self._delete(name)  # a failed load can leave some layers wrapped
            if "not found in the base model" in str(err):
                msg = f"LoRa incompatible with base model: '{self._model_id}'"
            else:
                msg = f"Unable to load LoRas for adapter '{repo}'"
            log.warning("%s: LoRA %s not loaded: %s", self._model_id, repo, err)
            raise LoraLoadingError(msg) from err
        self._names[repo] = name
        self.loads += 1
        self.load_s[repo] = time.perf_counter() - start
        log.info("%s: loaded LoRA %s in %.2f s (%d loaded)", self._model_id, repo,
                 self.load_s[repo], len(self._names))  # fmt: skip

    def _evict(self, keep: list[str]) -> None:
        """Deletes the least recently used adapters outside `keep` while `max_loaded` are
        loaded or, on CUDA, while free memory is short: room for one more."""
        evicted = False
        while len(self._names) >= self.max_loaded or (self._names and self._memory_short()):
            idle = next((repo for repo in self._names if repo not in keep), None)
            if idle is None:
                break
            self._delete(self._names.pop(idle))
            log.info("%s: evicted LoRA %s", self._model_id, idle)
            evicted = True
        if evicted and self._device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def _delete(self, name: str) -> None:
        try:
            self._pipe.delete_adapters(name)
        except Exception as err:  # nothing of it was loaded
            log.debug("%s: adapter %s not deleted: %s", self._model_id, name, err)

    def _memory_short(self) -> bool:
        if not self._device.startswith("cuda"):
            return False
        import torch

        return int(torch.cuda.mem_get_info(self._device)[0]) < FREE_VRAM_BYTES
