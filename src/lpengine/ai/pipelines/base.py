"""What every pipeline is: a loaded model that runs batches of items.

A request is first `prepare`d (no model needed: it validates, computes the pricing units and
splits the request into items, e.g. one per image with seeds seed, seed+1, …), then its items
are run in batches with other requests' items of the same `key`, and the results are put back
together by `respond` into the route's JSON.
"""

from __future__ import annotations

import gc
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lpengine.ai.errors import AIError
from lpengine.ai.runtime import Optimizations, torch_dtype
from lpengine.ai.safety_checker import SafetyChecker

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Item:
    """One unit of batched work: items with equal `key` may run in one model call."""

    key: Any  # hashable: equal keys batch together
    inputs: Any


@dataclass(frozen=True)
class Prepared:
    """A validated request: its pricing units, its items, what `respond` needs."""

    units: int
    items: tuple[Item, ...]
    context: Any = None
    loras: tuple[str, ...] = ()  # LoRA repos its items need, checked in the models dir


class Pipeline(ABC):
    name: ClassVar[str]
    capability: ClassVar[int]
    batchable: ClassVar[bool] = True  # False: each request runs alone whatever the flags say
    checks_safety: ClassVar[bool] = False  # True: its images get `nsfw` from the safety checker
    safety: SafetyChecker | None = None  # the node's checker, given by the manager at load

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        self.folder = folder
        self.device = device
        self.options = options or Optimizations()

    @property
    def dtype(self) -> Any:
        """The torch dtype its weights load in: float16 (or bfloat16) on CUDA, else float32."""
        return torch_dtype(self.device, self.options)

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def compile_targets(self) -> list[Any]:
        """The torch modules the compile options act on (none: not a torch runtime)."""
        return []

    @classmethod
    @abstractmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        """Validates parsed route fields (AIError 400 with ai-runner's text)."""

    @abstractmethod
    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        """One model call over `items` (all with the same key), one result per item.

        With `pad_to` > len(items) the call is padded to that batch size with copies of the
        last item, whose results are dropped: every call of one model then has the same
        shapes, so an item's result does not depend on what it was batched with (float
        kernels pick their blocking by shape) and fixed-shape runtimes (CUDA graphs) apply.
        """

    @classmethod
    @abstractmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        """The route's JSON body."""

    @property
    @abstractmethod
    def memory_bytes(self) -> int:
        """What the loaded model holds (device or host memory)."""

    def close(self) -> None:
        """Drops the model's memory now (also what recovering from out-of-memory does)."""
        for attr in list(vars(self)):
            if attr not in ("folder", "device", "options"):
                delattr(self, attr)
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


def seeds(seed: int | None, count: int, zero_is_random: bool = False) -> list[int]:
    """ai-runner's seeds: `seed`, `seed+1`, …; none (or 0 for upscale) -> a random one."""
    if seed is None or (zero_is_random and seed == 0):
        seed = random.randint(0, MAX_SEED)
    if not 0 <= seed <= MAX_SEED:
        raise AIError(400, f"seed: expected 0..{MAX_SEED}, got {seed}")
    return [(seed + i) % (MAX_SEED + 1) for i in range(count)]


def split_prompt(prompt: str) -> list[str]:
    """'a|b' -> ['a', 'b']: up to 4 parts, for prompt, prompt_2, … (ai-api.md §1)."""
    return [p.strip() for p in prompt.split("|")][:4]


def pad(values: list[Any], pad_to: int) -> list[Any]:
    return values + [values[-1]] * max(0, pad_to - len(values))
