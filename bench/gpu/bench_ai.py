"""Batch AI on a GPU: the tiny text-to-image model loaded on CUDA (float16), one padded batch of 8
images vs 8 calls of one, eager and with each compile flag; and the video frames' RGB ->
yuv420p with lpengine's op on the device vs on the host after a copy.

    python -m bench.gpu.bench_ai [--smoke] [--iterations N] [--device cuda|cpu] [--compile]

Each case prints one JSON line. Without CUDA it prints a line with "skipped" and exits 0 (with
`--smoke` it runs the cases on the CPU instead, so the test suite keeps the script working), and
without diffusers/transformers (the GPU image may lack them) the text-to-image cases are a
"skipped" line with the reason. `--device cpu` runs every case on the CPU.
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import check, compare_ms, emit, machine

SIZE = 64  # pixels: the tiny model's 1/8 latents are 8x8
BATCH = 8
VIDEO = (25, 576, 1024)  # frames, height, width: SVD img2vid-xt's output


def _missing(modules: tuple[str, ...]) -> str | None:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            return f"{name} does not import ({err})"
    return None


def _text_to_image(root: Path, device: str, flags: dict[str, Any], iterations: int) -> None:
    from lpengine.ai.api import ROUTES, parse
    from lpengine.ai.manager import ModelManager
    from lpengine.ai.model_config import AIModelConfig
    from lpengine.capability_registry import CapabilityRegistry
    from lpengine.testing import TINY_MODELS

    sd = TINY_MODELS["text-to-image"]
    config = AIModelConfig(
        "text-to-image", sd, optimization_flags={"max_batch_size": BATCH, **flags}
    )
    manager = ModelManager(root, [config], CapabilityRegistry("1.0.0"), device=device)
    slot = manager.slots[("text-to-image", sd)]
    manager._ensure_loaded(slot)  # NOTE: the load (and its compile flags) is not timed
    model = slot.model
    assert model is not None
    fields = {"model_id": sd, "prompt": "a red cat", "width": SIZE, "height": SIZE,
              "num_inference_steps": 4, "seed": 1, "num_images_per_prompt": BATCH}  # fmt: skip
    items = model.prepare(parse(ROUTES["text-to-image"], fields, form=False)).items
    times = compare_ms(
        {"batched": lambda: model.run(items, BATCH),
         "one_at_a_time": lambda: [model.run([it], 1) for it in items]},
        iterations, warmup=2,
    )  # fmt: skip
    emit({"bench": "gpu_ai", "case": "text-to-image batch", "device": device,
          "dtype": model.dtype_name, "flags": flags, "compiled": list(slot.applied),
          "batch": BATCH, "size": f"{SIZE}x{SIZE}", "steps": 4, "iterations": iterations,
          "batched_ms": round(times["batched"], 2),
          "one_at_a_time_ms": round(times["one_at_a_time"], 2),
          "speedup_vs_unbatched": round(times["one_at_a_time"] / times["batched"], 2),
          "machine": machine()})  # fmt: skip
    manager.close()


def _video_frames(device: str, iterations: int, smoke: bool) -> None:
    import numpy as np
    import torch

    from lpengine import ops
    from lpengine.ai.pipelines.image_to_video import rgb_frames, yuv420p

    frames_n, h, w = (2, 64, 96) if smoke else VIDEO
    gen = torch.Generator(device).manual_seed(0)
    frames = torch.rand(frames_n, 3, h, w, device=device, generator=gen, dtype=torch.float16)
    rgb = rgb_frames(frames)
    on_device = [yuv420p(f) for f in rgb]
    host = rgb.cpu().numpy()
    check(all(np.array_equal(a, ops.rgb_to_yuv(b, matrix="bt601"))
              for a, b in zip(on_device, host, strict=True)),
          "yuv420p on the device differs from the op on the host")  # fmt: skip
    times = compare_ms(
        {"device": lambda: [yuv420p(f) for f in rgb_frames(frames)],
         "host": lambda: [ops.rgb_to_yuv(f, matrix="bt601")
                          for f in rgb_frames(frames).cpu().numpy()]},
        iterations,
    )  # fmt: skip
    emit({"bench": "gpu_ai", "case": "video frames rgb->yuv420p", "device": device,
          "frames": frames_n, "size": f"{w}x{h}", "iterations": iterations,
          "device_ms": round(times["device"], 2), "host_copy_ms": round(times["host"], 2),
          "speedup_vs_host": round(times["host"] / times["device"], 2),
          "machine": machine()})  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one iteration")
    p.add_argument("--iterations", type=int, default=20, help="timed calls per contender")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument(
        "--compile", action="store_true", help="also TORCH_COMPILE, CUDA_GRAPHS, TENSORRT"
    )
    a = p.parse_args()
    iterations, device = 1 if a.smoke else a.iterations, a.device
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        if not a.smoke:
            emit({"bench": "gpu_ai", "skipped": "torch has no CUDA device", "machine": machine()})
            return
        device = "cpu"  # NOTE: the smoke run (the test suite's) checks the script on the CPU
    _video_frames(device, iterations, a.smoke)
    why = _missing(("diffusers", "transformers", "PIL"))
    if why is not None:
        emit({"bench": "gpu_ai", "case": "text-to-image batch", "skipped": why,
              "machine": machine()})  # fmt: skip
        return
    from lpengine.testing import write_tiny_models

    cases: list[dict[str, Any]] = [{}]
    failed = False
    if a.compile:
        cases += [{"TORCH_COMPILE": True}, {"CUDA_GRAPHS": True}, {"TENSORRT": True}]
    with tempfile.TemporaryDirectory() as tmp:
        write_tiny_models(Path(tmp))
        for flags in cases:
            try:
                _text_to_image(Path(tmp), device, flags, iterations)
            except Exception as err:  # NOTE: one flag that fails here must not hide the rest
                emit({"bench": "gpu_ai", "case": "text-to-image batch", "flags": flags,
                      "error": f"{type(err).__name__}: {err}"})  # fmt: skip
                failed = True
    check(not failed, "a text-to-image case failed (its line has the error)")


if __name__ == "__main__":
    main()
