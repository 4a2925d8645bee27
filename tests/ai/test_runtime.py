"""Runtime options from aiModels `optimization_flags`: parsing, the dtype per device, the
compilers applied (or refused with the reason) when a tiny model loads."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from lpengine.ai.manager import ModelManager
from lpengine.ai.model_config import parse_ai_models
from lpengine.ai.pipelines.image_to_video import mp4, rgb_frames, yuv420p
from lpengine.ai.runtime import Optimizations, optimize, parse_flags, tensorrt_missing, torch_dtype
from lpengine.capability_registry import CapabilityRegistry
from lpengine.testing import TINY_MODELS

LLM, SD = TINY_MODELS["llm"], TINY_MODELS["text-to-image"]
TRT_MISSING = tensorrt_missing()


def manager(root: Path, pipeline: str, model_id: str, flags: object) -> ModelManager:
    entry = {"pipeline": pipeline, "model_id": model_id, "optimization_flags": flags}
    import json

    return ModelManager(root, parse_ai_models(json.dumps([entry])), CapabilityRegistry("1.0.0"),
                        device="cpu")  # fmt: skip


def test_flags_take_ai_runners_names_and_strings_case_insensitively():
    got = parse_flags(
        {"TORCH_COMPILE": "True", "cuda_graphs": True, "TensorRT": "false", "BFLOAT16": "true",
         "max_batch_size": 4, "MAX_WAIT_MS": 2.5, "max_loras": 3},
        "m",
    )  # fmt: skip
    assert got == Optimizations(
        4, 2.5, torch_compile=True, cuda_graphs=True, bfloat16=True, max_loras=3
    )
    assert parse_flags({}, "m") == Optimizations()


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"TORCH_COMPILE": "yes"}, "optimization_flags.TORCH_COMPILE: expected true or false"),
        ({"CUDA_GRAPHS": 1}, "optimization_flags.CUDA_GRAPHS: expected true or false"),
        ({"max_batch_size": 0}, "optimization_flags.max_batch_size: expected an integer >= 1"),
        ({"max_wait_ms": -1}, "optimization_flags.max_wait_ms: expected a number >= 0"),
        ({"max_loras": 0}, "optimization_flags.max_loras: expected an integer >= 1"),
        ({"TORCH_COMPLIE": True}, "optimization_flags.TORCH_COMPLIE: unknown flag"),
    ],
)
def test_a_bad_flag_value_is_a_value_error_naming_the_flag(flags, named):
    with pytest.raises(ValueError, match=f"^aiModels m\\.{named}"):
        parse_flags(flags, "aiModels m")


def test_ai_runner_flags_lpengine_does_not_build_are_logged_and_ignored(caplog):
    with caplog.at_level(logging.WARNING, "lpengine.ai.runtime"):
        assert parse_flags({"SFAST": True, "DEEPCACHE": "true"}, "m") == Optimizations()
    assert "m.optimization_flags.SFAST: ai-runner's option is not built" in caplog.text
    assert "DEEPCACHE" in caplog.text


def test_fp16_on_cuda_bf16_on_request_and_fp32_on_cpu():
    assert torch_dtype("cuda", Optimizations()) is torch.float16
    assert torch_dtype("cuda:1", Optimizations(bfloat16=True)) is torch.bfloat16
    assert torch_dtype("cpu", Optimizations(bfloat16=True)) is torch.float32


def test_a_model_with_a_bad_flag_is_not_advertised_and_the_reason_names_it(root):
    m = manager(root, "llm", LLM, {"TORCH_COMPILE": "maybe"})
    assert not m.slots
    ((config, why),) = m.unsupported
    assert config.model_id == LLM
    assert why == (f"aiModels {LLM}.optimization_flags.TORCH_COMPILE: expected true or false, "
                   "got 'maybe'")  # fmt: skip
    assert m.registry.offers().get("ai") is None


def test_torch_compile_is_applied_on_cpu_when_the_model_loads(root, caplog):
    m = manager(root, "llm", LLM, {"TORCH_COMPILE": True})
    slot = m.slots[("llm", LLM)]
    with caplog.at_level(logging.INFO, "lpengine.ai"):
        m._ensure_loaded(slot)
    try:
        assert slot.applied == ("torch.compile()",)
        assert slot.model is not None
        (module,) = slot.model.compile_targets()
        assert module._compiled_call_impl is not None  # nn.Module.compile(): calls compile
        assert m.describe()[slot.name]["dtype"] == "float32"
        assert "torch.compile() on 1 module(s)" in caplog.text
        assert f"loaded {slot.name} on cpu" in caplog.text and "float32" in caplog.text
    finally:
        m.close()


def test_without_flags_nothing_is_compiled(root):
    m = manager(root, "llm", LLM, {})
    try:
        slot = m.slots[("llm", LLM)]
        m._ensure_loaded(slot)
        assert slot.applied == () and slot.model is not None
        assert slot.model.compile_targets()[0]._compiled_call_impl is None
    finally:
        m.close()


def test_cuda_graphs_are_refused_on_cpu_with_the_reason_and_the_model_loads(root, caplog):
    m = manager(root, "text-to-image", SD, {"CUDA_GRAPHS": True})
    slot = m.slots[("text-to-image", SD)]
    try:
        with caplog.at_level(logging.WARNING, "lpengine.ai.runtime"):
            m._ensure_loaded(slot)
        assert slot.model is not None and slot.applied == ()
        assert "CUDA_GRAPHS refused: CUDA graphs need CUDA, the device is cpu" in caplog.text
        assert m.describe()[slot.name]["loaded"]
    finally:
        m.close()


def test_tensorrt_on_cpu_is_not_applied_and_says_it_needs_cuda(caplog):
    module = torch.nn.Linear(2, 2)
    with caplog.at_level(logging.WARNING, "lpengine.ai.runtime"):
        assert optimize([module], "cpu", Optimizations(tensorrt=True), "m") == []
    assert "m: TENSORRT not applied: TensorRT needs CUDA and the device is cpu" in caplog.text


@pytest.mark.skipif(TRT_MISSING is None, reason="tensorrt imports here: the engine test runs")
def test_without_tensorrt_the_model_still_loads_and_the_log_says_why(caplog):
    # NOTE: "cuda" is only a name here: without tensorrt nothing touches the device.
    module = torch.nn.Linear(2, 2)
    with caplog.at_level(logging.WARNING, "lpengine.ai.runtime"):
        got = optimize([module], "cuda", Optimizations(tensorrt=True, torch_compile=True), "m")
    assert got == ["torch.compile()"]  # TORCH_COMPILE still applies
    assert f"m: TENSORRT not applied: {TRT_MISSING}" in caplog.text
    assert "tensorrt does not import" in caplog.text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="TensorRT engines need a CUDA GPU")
@pytest.mark.skipif(TRT_MISSING is not None, reason=f"TensorRT engines: {TRT_MISSING}")
def test_tensorrt_engine_compiles_the_denoiser(root):
    module = torch.nn.Linear(8, 8).cuda().half()
    x = torch.randn(4, 8, device="cuda", dtype=torch.float16)
    expected = module(x)
    assert optimize([module], "cuda", Optimizations(tensorrt=True), "m") == [
        "torch.compile(backend=torch_tensorrt, dynamic=False)"
    ]
    torch.testing.assert_close(module(x), expected, atol=1e-2, rtol=1e-2)


NO_CUDA = not torch.cuda.is_available()


def t2i_once(m: ModelManager) -> list[object]:
    from lpengine.ai.api import ROUTES, parse

    slot = m.slots[("text-to-image", SD)]
    fields = {"model_id": SD, "prompt": "a cat", "width": 64, "height": 64,
              "num_inference_steps": 2, "seed": 3, "num_images_per_prompt": 2}  # fmt: skip
    prepared = slot.pipeline.prepare(parse(ROUTES["text-to-image"], fields, form=False))
    return m.run(slot, prepared.items).results


@pytest.mark.gpu
@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("flags", [{}, {"CUDA_GRAPHS": True}, {"BFLOAT16": True}])
def test_on_cuda_models_load_in_half_precision_and_run(root, flags):
    import json

    entry = {"pipeline": "text-to-image", "model_id": SD,
             "optimization_flags": {"max_batch_size": 2, **flags}}  # fmt: skip
    m = ModelManager(root, parse_ai_models(json.dumps([entry])), CapabilityRegistry("1.0.0"),
                     device="cuda")  # fmt: skip
    try:
        m._ensure_loaded(m.slots[("text-to-image", SD)])
        described = m.describe()[f"text-to-image/{SD}"]
        assert described["dtype"] == ("bfloat16" if flags.get("BFLOAT16") else "float16")
        cuda_graphs = ["torch.compile(mode=reduce-overhead)"] if flags.get("CUDA_GRAPHS") else []
        assert described["compiled"] == cuda_graphs
        first, again = t2i_once(m), t2i_once(m)  # CUDA graphs: recorded, then replayed
        assert [np.asarray(im).shape for im, _ in first] == [(64, 64, 3)] * 2
        assert all(np.array_equal(np.asarray(a), np.asarray(b))
                   for (a, _), (b, _) in zip(first, again, strict=True))  # fmt: skip
    finally:
        m.close()


@pytest.mark.gpu
@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")
def test_video_frames_convert_on_the_device_as_on_the_host():
    from lpengine import ops

    frames = torch.rand(2, 3, 64, 96, device="cuda", dtype=torch.float16)
    rgb = rgb_frames(frames)
    for on_device, host in zip(rgb, rgb.cpu().numpy(), strict=True):
        np.testing.assert_array_equal(yuv420p(on_device), ops.rgb_to_yuv(host, matrix="bt601"))


@pytest.mark.slow
def test_a_compiled_tiny_llm_gives_the_eager_logits(root):
    import transformers

    from lpengine.ai.model_dir import snapshot_dir

    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(snapshot_dir(root, LLM)), local_files_only=True
    ).eval()
    tokens = torch.tensor([[1, 2, 3, 4]])
    with torch.inference_mode():
        eager = model(tokens).logits
        assert optimize([model], "cpu", Optimizations(torch_compile=True), "m")
        compiled = model(tokens).logits
    torch.testing.assert_close(compiled, eager, atol=1e-5, rtol=1e-5)


def smooth_rgb(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 2 % 256, y * 4 % 256, (x + y) % 256], -1).astype(np.uint8)


def test_video_frames_convert_with_lpengine_ops_as_swscale_did():
    """The yuv420p planes the MP4 is encoded from, lpengine's op vs PyAV's swscale before: luma
    to 1 code value everywhere; chroma to 1 on smooth images (on noise the 2x2 average and
    swscale's filter differ, so only the mean is bounded there)."""
    noise = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    for rgb in (smooth_rgb(64, 96), noise):
        before = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        old = before.to_ndarray().astype(np.int16)
        new = yuv420p(torch.from_numpy(rgb)).astype(np.int16)
        assert np.abs(old[:64] - new[:64]).max() <= 1
        chroma = np.abs(old[64:] - new[64:])
        assert chroma.max() <= 1 if rgb is not noise else chroma.mean() < 8


def test_rgb_frames_round_as_diffusers_pil_output_does():
    frames = torch.rand(3, 3, 16, 24, generator=torch.Generator().manual_seed(0))
    got = rgb_frames(frames).numpy()
    expected = (frames.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(got, expected)
    video = mp4(rgb_frames(frames), fps=8)
    with av.open(__import__("io").BytesIO(video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 3 and decoded[0].shape == (16, 24, 3)
