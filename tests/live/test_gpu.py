"""A live stream's GPU path (skipped without a CUDA GPU; `bench/gpu/run.sh` runs it on one):
frames converted on the device as on the host, the diffusion pipeline keeping its frames on the
device, and a whole stream through it."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from lpengine.ai.model_dir import snapshot_dir
from lpengine.live.diffusion import StreamDiffusionModel, StreamDiffusionPipeline
from lpengine.live.frames import InputConverter, OutputConverter, to_model_input
from lpengine.live.streams import LiveStreams
from lpengine.testing.tiny_models import TINY_SD
from tests.helpers import needs_gpu
from tests.live.clips import ts_segments
from tests.live.inprocess import Node, collect, feed, run_clean

pytestmark = [
    pytest.mark.gpu,
    needs_gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="torch has no CUDA here"),
]
SIZE = 384


def _frame(seed: int, width: int = 640, height: int = 360) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(16, 236, (height * 3 // 2, width), dtype=np.uint8)


def test_frames_convert_on_the_device_as_on_the_host():
    convert_in, convert_out = InputConverter(), OutputConverter()
    for seed in range(3):
        yuv = _frame(seed)
        on_device = convert_in(yuv, SIZE, SIZE, "cuda")
        assert on_device.is_cuda and tuple(on_device.shape) == (1, SIZE, SIZE, 3)
        host = to_model_input(yuv, SIZE, SIZE)
        assert float(np.abs(on_device.cpu().numpy() - host).max()) <= 1e-3
        back = convert_out(on_device).copy()
        # NOTE: within one LSB: the CPU may fuse x * 255 + 0.5 into one FMA
        assert np.abs(back.astype(int) - OutputConverter()(host)).max() <= 1


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for package in ("diffusers", "transformers", "PIL"):  # NOTE: GPU images may lack them
        pytest.importorskip(package)
    from tests.ai.models import models_dir

    return snapshot_dir(models_dir(tmp_path_factory), TINY_SD)


def test_the_diffusion_pipeline_keeps_its_frames_on_the_device(folder):
    model = StreamDiffusionModel(folder, device="cuda")
    pipe = StreamDiffusionPipeline(model, {"width": SIZE, "height": SIZE, "prompt": "a cat"})
    assert pipe.device == "cuda"
    convert_in = InputConverter()
    outs = [pipe.process(convert_in(_frame(i), SIZE, SIZE, "cuda")) for i in range(3)]
    for out in outs:
        assert out.is_cuda and tuple(out.shape) == (1, SIZE, SIZE, 3)
        assert out.dtype == torch.float32 and 0 <= float(out.min()) <= float(out.max()) <= 1
    assert OutputConverter()(outs[-1]).shape == (SIZE * 3 // 2, SIZE)


def test_a_stream_runs_through_the_model_on_the_gpu(folder):
    model = StreamDiffusionModel(folder, device="cuda")

    async def body(node: Node) -> None:
        node.live = LiveStreams(
            node.trickle,
            node.registry,
            "https://127.0.0.1:1",
            available={TINY_SD: lambda params: StreamDiffusionPipeline(model, params)},
            encoder="h264_nvenc",  # NOTE: x264 where NVENC does not open (open_encoder)
        )
        job = node.live.start(node.live.reserve(TINY_SD), {"width": SIZE, "height": SIZE})
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        await feed(node.channel(job), ts_segments(1.0, size=(SIZE, SIZE)))
        node.trickle.close_channel(job.manifest_id)
        data = await asyncio.wait_for(out, 60)
        with av.open(io.BytesIO(data), format="mpegts") as container:
            frames = [f.to_ndarray() for f in container.decode(video=0)]
        assert len(frames) >= 15 and frames[0].shape == (SIZE * 3 // 2, SIZE)

    run_clean(body)
