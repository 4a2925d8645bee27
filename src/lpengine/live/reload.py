"""Switching a running live stream to another model (ai-api.md §9.5: a reload task).

Params are applied in place by the pipeline (`LivePipeline.update`). What needs a reload is the
model itself: a control message whose `model_id` names another live model of the node
(`{"model_id": "other/sd", "prompt": "..."}`; the SDK's `{"type": "update", "params": {...}}`
too). The stream keeps running while it reloads:

1. the node gives the stream a slot of the new model (`ModelSwitch.begin_switch`, the same
   count of slots `LiveStreams.reserve` keeps): an unknown model or one without a free slot is
   refused with an error event, and nothing changes;
2. in a thread, off the frame loop: the model is waited for if it is still loading at node
   start (`ModelWait`; its load failing fails the reload), its per-stream pipeline is made with
   the stream's params updated by the message, and prepared (`prepare`);
3. meanwhile the worker answers every input frame with the loading overlay
   (`lpengine.live.overlay`) when the new params say `show_reloading_frame` (the default), or
   passes it through unchanged; these frames are not counted as output and the state is
   LOADING (ERROR past 180 s);
4. done: the new pipeline serves the next frame and the old model's slot is given back; failed:
   an error event, the new slot is given back, and the previous model and params go on.

Control messages that arrive during a reload are held, the latest winning, until it ends. A
stream keeps the price it started with (its balance pins it, the gateway's tickets carry it), so
with payments on it may switch only to models that cost its gateway no more per unit than the
one it started on (`live.payments.switch_price_check`, in step 1).

A stream's first load (`load_first`, in its worker before the first frame) makes its pipeline
ready with the start params; when that fails, it is reported and retried with default params
(the output size kept), as ai-runner's pipeline process does; failing that too, the stream stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from lpengine.live.pipelines import Factory, LivePipeline

log = logging.getLogger(__name__)

ModelWait = Callable[[threading.Event], Factory]  # (the stream's stop) -> the ready model's


class ModelSwitch(Protocol):
    """The node's side of a model switch (`LiveStreams`): which models there are, and the
    slots each has."""

    def begin_switch(self, manifest_id: str, model_id: str) -> ModelWait:
        """Takes a slot of `model_id` for the stream; ValueError if it is unknown or full."""
        ...

    def end_switch(self, manifest_id: str, model_id: str, switched: bool) -> None:
        """The stream holds `model_id`'s slot instead of its old one (switched), or gives the
        slot `begin_switch` took back."""
        ...


def prepare(
    wait: ModelWait, params: dict[str, Any], size: tuple[int, int], stop: threading.Event
) -> LivePipeline:
    """The new pipeline, ready for its first frame (blocking: seconds, minutes if the model is
    still loading); ValueError for params it refuses or a different output size."""
    new = wait(stop)(params)
    if (new.width, new.height) != size:
        raise ValueError(
            f"width, height: cannot change output resolution mid-stream ({size[0]}x{size[1]} "
            f"-> {new.width}x{new.height})"
        )
    new.update(dict(new.params))  # NOTE: what its first frame would do (prompt embeddings, ...)
    return new


class LoadFailed(Exception):
    """No pipeline of the stream's model could be loaded; the message says why."""


def load_first(
    model_id: str,
    pipeline: LivePipeline,
    factory: Factory | None,
    report: Callable[[str], None],
) -> LivePipeline:
    """The pipeline that serves a stream from its first frame (blocking): `pipeline` made
    ready with its start params (what its first frame would do: prompt embeddings, ...), or,
    when that fails, one made by `factory` with default params and the same output size, the
    failure given to `report` first. LoadFailed when that cannot be done either."""
    try:
        pipeline.update(dict(pipeline.params))
        return pipeline
    except Exception as err:
        log.warning("live pipeline %s failed to load", model_id, exc_info=True)
        if factory is None:
            raise LoadFailed(f"failed to load: {err}") from err
        report(
            f"live pipeline {model_id} failed to load with the stream's params, "
            f"retrying with default params: {err}"
        )
    try:
        fallback = factory({"width": pipeline.width, "height": pipeline.height})
        fallback.update(dict(fallback.params))
        return fallback
    except Exception as err:
        log.warning("live pipeline %s failed with default params", model_id, exc_info=True)
        raise LoadFailed(f"failed to load with default params: {err}") from err
