"""The safety checker behind `nsfw` (ai-api.md §1 "Safety check"): diffusers'
StableDiffusionSafetyChecker with its CLIP image processor, loaded from the models dir as
`CompVis/stable-diffusion-safety-checker` (HF cache layout, never the network).

One per model manager, so one per node and device: loaded when the first image model loads,
shared by every image pipeline, unloaded when the last one is (its memory counts against the
manager's budget). Like ai-runner it only flags: the images are answered as they are. When the
folder is absent the node still serves (gateways send `safety_check` true by default, so refusing
would break every gateway): a warning naming the folder is logged once and `nsfw` is false; the
state is in `/status` `ai_models` (`safety_checker`). A folder added later is seen after a restart.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lpengine.ai.model_dir import ModelNotFound, snapshot_dir, weights_bytes
from lpengine.ai.runtime import Optimizations, torch_dtype

MODEL_ID = "CompVis/stable-diffusion-safety-checker"
# ai-runner takes its features from openai/clip-vit-base-patch32, whose preprocessor config is
# the checker's own (CLIP's mean and std, 224 px); that folder is used when the checker has none.
FEATURES_ID = "openai/clip-vit-base-patch32"
PREPROCESSOR = "preprocessor_config.json"

log = logging.getLogger(__name__)


class SafetyChecker:
    """The node's safety checker; `flags` is what the image pipelines call."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self._lock = threading.Lock()
        self._model: Any = None
        self._processor: Any = None
        self.device = ""
        self.missing = ""  # why it is not there, once a load found it absent
        self.load_s: float | None = None
        self.batches = 0  # checker calls
        self.images = 0  # images checked

    @property
    def module(self) -> Any:
        """The loaded StableDiffusionSafetyChecker (None before `load`)."""
        return self._model

    @property
    def state(self) -> str:
        """The state for the manager's `describe`: "loaded", "not loaded" or "missing: <why>"."""
        if self._model is not None:
            return "loaded"
        if self.missing:
            return f"missing: {self.missing}"
        try:
            snapshot_dir(self.models_dir, MODEL_ID)
        except ModelNotFound as err:
            return f"missing: {err}"
        return "not loaded"

    @property
    def memory_bytes(self) -> int:
        model = self._model
        if model is None:
            return 0
        tensors = [*model.parameters(), *model.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    def pending_bytes(self) -> int:
        """What `load` would add to the memory in use (0 when loaded or absent)."""
        if self._model is not None or self.missing:
            return 0
        try:
            return weights_bytes(snapshot_dir(self.models_dir, MODEL_ID))
        except ModelNotFound:
            return 0

    def load(self, device: str) -> None:
        """Loads the checker on `device` once (fp16 on CUDA, as ai-runner); an absent folder is
        logged once and leaves it unloaded; a folder that fails to load raises."""
        with self._lock:
            if self._model is not None or self.missing:
                return
            try:
                folder = snapshot_dir(self.models_dir, MODEL_ID)
            except ModelNotFound as err:
                self.missing = str(err)
                log.warning(
                    "safety checker not found, so images are not checked (nsfw is false): %s. "
                    "To check them, put it there: hf download %s --cache-dir %s",
                    err, MODEL_ID, self.models_dir,
                )  # fmt: skip
                return
            start = time.perf_counter()
            self._model, self._processor = _load(folder, self._features(folder), device)
            self.device = device
            self.load_s = time.perf_counter() - start
            log.info("loaded safety checker %s on %s in %.2f s (%d MB, %s)", MODEL_ID, device,
                     self.load_s, self.memory_bytes >> 20,
                     str(self._model.dtype).removeprefix("torch."))  # fmt: skip

    def _features(self, folder: Path) -> Path:
        if (folder / PREPROCESSOR).is_file():
            return folder
        try:
            return snapshot_dir(self.models_dir, FEATURES_ID)
        except ModelNotFound as err:
            raise ModelNotFound(f"{folder} has no {PREPROCESSOR}, and {err}") from None

    def flags(self, images: Sequence[Any], checked: Sequence[bool]) -> list[bool]:
        """nsfw per image (PIL images): the checker's verdict where `checked`, False elsewhere
        or when the checker is absent. One checker call for all the checked images."""
        wanted = [image for image, check in zip(images, checked, strict=True) if check]
        if wanted and self._model is None and self.device:
            self.load(self.device)  # NOTE: unloaded by an eviction racing this model's load
        model, processor = self._model, self._processor  # NOTE: close() may run meanwhile
        if not wanted or model is None:
            return [False] * len(images)
        verdicts = iter(self._check(model, processor, wanted))
        return [bool(check and next(verdicts)) for check in checked]

    def _check(self, model: Any, processor: Any, images: list[Any]) -> list[bool]:
        import numpy as np

        pixels = processor(images=images, return_tensors="pt").pixel_values
        # NOTE: forward() writes a black image over each flagged entry of `images`; it gets
        # empty placeholders, so the answered images stay as they are (ai-runner flags only).
        placeholders = [np.zeros(0, dtype=np.uint8)] * len(images)
        _, nsfw = model(clip_input=pixels.to(self.device, model.dtype), images=placeholders)
        self.batches += 1
        self.images += len(images)
        return [bool(flag) for flag in nsfw]

    def close(self) -> None:
        with self._lock:
            self._model = self._processor = None


def _load(folder: Path, features: Path, device: str) -> tuple[Any, Any]:
    """(StableDiffusionSafetyChecker on `device`, CLIP image processor) from local folders."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

    # NOTE: transformers' stubs type from_pretrained oddly; the models are used as Any.
    t: Any = importlib.import_module("transformers")
    t.utils.logging.disable_progress_bar()
    # NOTE: its warning says a black image is returned instead; lpengine returns the image.
    logging.getLogger(StableDiffusionSafetyChecker.__module__).setLevel(logging.ERROR)
    dtype = torch_dtype(device, Optimizations())
    checker: Any = StableDiffusionSafetyChecker
    model = checker.from_pretrained(str(folder), local_files_only=True, dtype=dtype)
    model = model.to(device).eval()
    # NOTE: the PIL processor is what ai-runner's CLIPImageProcessor computes; transformers' own
    # default wants torchvision (not installable beside the CPU torch build) and warns.
    processor = getattr(t, "CLIPImageProcessorPil", None) or t.CLIPImageProcessor
    return model, processor.from_pretrained(str(features), local_files_only=True)
