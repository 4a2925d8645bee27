"""A stream's first load (ai-api.md §9.5): params its model fails to load with are reported and
the stream goes on with default params, the output size kept; a model that fails to load with
default params too stops the stream cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from lpengine.live.pipelines import NoopPipeline
from lpengine.live.streams import LiveStreams
from tests.live.clips import decode_indices, ts_segments
from tests.live.inprocess import Node, collect, errors, events, feed, run_clean


class LoadsOnlyWithDefaults(NoopPipeline):
    """Echoes frames; loading with a `controlnet` param fails, as a model's would with an
    adapter it does not have (the params themselves are well formed)."""

    name = "picky"

    def update(self, params: dict[str, Any]) -> None:
        if "controlnet" in params:
            raise RuntimeError(f"no controlnet {params['controlnet']!r} in this model")
        super().update(params)


class NeverLoads(NoopPipeline):
    name = "broken"

    def update(self, params: dict[str, Any]) -> None:
        raise RuntimeError("the weights are corrupt")


def _with_test_models(node: Node) -> None:
    available: Mapping[str, Any] = {"picky": LoadsOnlyWithDefaults, "broken": NeverLoads}
    node.live = LiveStreams(node.trickle, node.registry, "https://127.0.0.1:1", available=available)


def test_params_that_fail_to_load_are_reported_and_the_stream_runs_with_default_params():
    async def body(node: Node) -> None:
        _with_test_models(node)
        start = {"width": 448, "height": 448, "controlnet": "canny", "prompt": "a cat"}
        job = node.live.start(node.live.reserve("picky"), start)
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        ev = asyncio.ensure_future(events(node.channel(job, "-events")))
        await feed(node.channel(job), ts_segments(1.0))
        node.trickle.close_channel(job.manifest_id)
        got = decode_indices(await asyncio.wait_for(out, 20))
        evs = await asyncio.wait_for(ev, 20)
        assert got and got[-1] == 29, got  # the stream ran: its last frame came out
        errs = errors(evs)
        assert len(errs) == 1, errs
        assert "failed to load with the stream's params, retrying with default params" in errs[0]
        assert "no controlnet 'canny' in this model" in errs[0]
        statuses = [e["event"] for e in evs if e["event"]["type"] == "status"]
        assert statuses[0]["state"] == "LOADING"
        # the default params, with the size the stream started with
        assert statuses[-1]["inference_status"]["last_params"] == {"width": 448, "height": 448}
        assert statuses[-1]["state"] != "LOADING"

    run_clean(body)


def test_a_model_that_fails_to_load_with_default_params_too_stops_the_stream():
    async def body(node: Node) -> None:
        _with_test_models(node)
        job = node.live.start(node.live.reserve("broken"), {"prompt": "a dog"})
        ev = asyncio.ensure_future(events(node.channel(job, "-events")))
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        evs = await asyncio.wait_for(ev, 20)  # NOTE: the events channel closes: it stopped
        assert await asyncio.wait_for(out, 20) == b""
        errs = errors(evs)
        assert errs[0].startswith("live pipeline broken failed to load with the stream's params")
        assert (
            "live pipeline broken failed to load with default params: the weights are corrupt"
        ) in errs
        assert node.live.in_use("broken") == 0 and node.live.sessions == {}

    run_clean(body)
