"""Live pipelines: what runs on each frame of a live stream (ai-api.md §9.9).

A pipeline takes model input in the live tensor layout, RGB float32 in [0, 1] of shape
(1, H, W, 3), and returns the same layout (H, W may differ from the input's but never change
mid-stream): numpy arrays in host memory for a pipeline whose `device` is "cpu", torch tensors
on its CUDA device otherwise (the stream converts frames on that device, `lpengine.live.frames`).
Parameters arrive at start and from the control channel; `validate` checks them without
touching the running pipeline (so a bad update is reported and the stream keeps going), `update`
applies validated ones in place. Another `model_id` is not a param but a reload: the session
swaps in another model's pipeline (`lpengine.live.reload`), showing the loading overlay
meanwhile unless `show_reloading_frame` (BaseParams, checked here) is false.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

HostFrames = NDArray[np.float32]  # (1, H, W, 3) RGB in [0, 1], host memory
# NOTE: HostFrames for a "cpu" pipeline, a torch tensor on the pipeline's CUDA device otherwise
Frames = Any

DEFAULT_SIZE = 512
MIN_SIZE, MAX_SIZE, SIZE_STEP = 384, 1024, 64  # BaseParams: width, height


class LivePipeline(Protocol):
    name: str
    device: str  # "cpu" or a CUDA device ("cuda", "cuda:1"): where process() takes frames
    width: int
    height: int
    params: dict[str, Any]  # the last params applied

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The params as the pipeline will apply them; ValueError naming the bad one."""
        ...

    def update(self, params: dict[str, Any]) -> None:
        """Applies params `validate` returned."""
        ...

    def process(self, frames: Frames) -> Frames: ...


def base_size(params: Mapping[str, Any], current: tuple[int, int] | None) -> tuple[int, int]:
    """`width` and `height` (BaseParams): 384-1024, multiples of 64, default 512; fixed once the
    stream runs (`current`), since the output resolution cannot change mid-stream."""
    size = []
    for key in ("width", "height"):
        default = DEFAULT_SIZE if current is None else current[key == "height"]
        value = params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key}: expected an integer, got {value!r}")
        if not MIN_SIZE <= value <= MAX_SIZE or value % SIZE_STEP:
            raise ValueError(
                f"{key}: expected {MIN_SIZE}-{MAX_SIZE} in steps of {SIZE_STEP}, got {value}"
            )
        size.append(value)
    if current is not None and tuple(size) != current:
        raise ValueError(
            f"width, height: cannot change output resolution mid-stream "
            f"({current[0]}x{current[1]} -> {size[0]}x{size[1]})"
        )
    show = params.get("show_reloading_frame", True)
    if not isinstance(show, bool):
        raise ValueError(f"show_reloading_frame: expected true or false, got {show!r}")
    return size[0], size[1]


class NoopPipeline:
    """Echoes each frame (ai-runner's `noop`): the reference for tests and benches."""

    name = "noop"
    device = "cpu"

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.width, self.height = base_size(params, None)
        self.params: dict[str, Any] = dict(params)
        self.updates = 0

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        base_size(params, (self.width, self.height))
        return dict(params)

    def update(self, params: dict[str, Any]) -> None:
        self.params = params
        self.updates += 1

    def process(self, frames: Frames) -> Frames:
        return frames


Factory = Callable[[Mapping[str, Any]], LivePipeline]  # initial params -> a running pipeline
PIPELINES: dict[str, Factory] = {"noop": NoopPipeline}


def load(model_id: str, params: Mapping[str, Any]) -> LivePipeline:
    """The pipeline `model_id` names with its initial params; ValueError if unknown or bad."""
    factory = PIPELINES.get(model_id)
    if factory is None:
        raise ValueError(f"model_id: no live pipeline {model_id!r} (known: {sorted(PIPELINES)})")
    return factory(params)
