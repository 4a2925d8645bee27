"""Live models from -aiModels: `live-video-to-video` entries whose folder is under -aiModelsDir.

Each is a Stable Diffusion folder (Hugging Face cache layout, `lpengine.ai.model_dir`) run by the
StreamDiffusion-style pipeline. They load once, one after another, in one background thread
started with the node: a stream cannot wait for a load (the SDK gives up on a start after 5 s),
so every live model loads at start whatever its `warm` says, and the event loop never waits for
one. Each outcome is reported through `on_ready(model_id, factory, capacity)` or
`on_failed(model_id, why)`; the caller advertises accordingly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lpengine.ai.model_config import AIModelConfig
from lpengine.ai.model_dir import snapshot_dir
from lpengine.live import pipelines

log = logging.getLogger(__name__)

LIVE = "live-video-to-video"

Ready = Callable[[str, pipelines.Factory, int], None]  # (model id, factory, capacity)
Failed = Callable[[str, str], None]  # (model id, why)


def live_entries(configs: Sequence[AIModelConfig]) -> list[AIModelConfig]:
    """The live-video-to-video entries lpengine loads itself: not the built-in pipelines
    (`noop`), which need no folder."""
    return [c for c in configs if c.pipeline == LIVE and c.model_id not in pipelines.PIPELINES]


def load_diffusion(folder: Path) -> pipelines.Factory:
    """Loads a Stable Diffusion folder (blocking) and returns a factory of cheap per-stream
    pipelines sharing its weights."""
    import torch

    from lpengine.live.diffusion import StreamDiffusionModel, StreamDiffusionPipeline

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = StreamDiffusionModel(folder, device)

    def factory(params: Mapping[str, Any]) -> pipelines.LivePipeline:
        return StreamDiffusionPipeline(model, params)

    return factory


class LiveModelLoader:
    """The background thread that loads `entries` from `models_dir`, in order."""

    def __init__(
        self,
        models_dir: Path,
        entries: Sequence[AIModelConfig],
        on_ready: Ready,
        on_failed: Failed,
        load: Callable[[Path], pipelines.Factory] = load_diffusion,
    ) -> None:
        self.models_dir = models_dir
        self.entries = list(entries)
        self._on_ready = on_ready
        self._on_failed = on_failed
        self._load = load
        self._stopped = threading.Event()
        # NOTE: daemon: a load in progress cannot be interrupted, and must not hold up an exit.
        self._thread = threading.Thread(target=self._run, name="live-model-loader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Nothing more is loaded or reported (a load in progress finishes unseen)."""
        self._stopped.set()

    def join(self, timeout_s: float | None = None) -> None:
        self._thread.join(timeout_s)

    def _run(self) -> None:
        for entry in self.entries:
            if self._stopped.is_set():
                return
            name = f"{LIVE}/{entry.model_id}"
            t0 = time.monotonic()
            try:
                if entry.url:
                    raise ValueError("external runners (url) are not built yet")
                factory = self._load(snapshot_dir(self.models_dir, entry.model_id))
            except Exception as err:  # NOTE: any failure: this model is not offered, others go on
                if not self._stopped.is_set():
                    log.error("aiModels: %s is not advertised: %s", name, err)
                    self._on_failed(entry.model_id, str(err))
                continue
            if self._stopped.is_set():
                return
            log.info("live model %s loaded in %.1f s", name, time.monotonic() - t0)
            if not entry.warm:
                log.info("live model %s: live models load at start, warm or not", name)
            self._on_ready(entry.model_id, factory, entry.capacity)
