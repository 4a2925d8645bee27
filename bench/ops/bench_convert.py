"""Colour conversion: lpengine native vs numpy reference vs libswscale (PyAV), same frames.

    python -m bench.ops.bench_convert [--smoke] [--iterations N]

Cases: yuv420p -> packed RGB24 at the source size, and -> planar float32 RGB 512x512 `cover`
(a model's input). libswscale gets the same work: a reformat to RGB24 (scaled to cover for the
second case, then cropped and converted to float by numpy, which is how runners do it today).
"""

from __future__ import annotations

import av
import numpy as np

from bench.harness import args, check, compare_ms, emit, machine, on_gpu, time_ms
from bench.ops.frames import pattern_frame
from lpengine import ops


def swscale_cover_float(frame: av.VideoFrame, w: int, h: int) -> np.ndarray:
    scale = max(w / frame.width, h / frame.height)
    sw, sh = round(frame.width * scale / 2) * 2, round(frame.height * scale / 2) * 2
    rgb = frame.reformat(width=sw, height=sh, format="rgb24", interpolation="AREA").to_ndarray()
    x, y = (sw - w) // 2, (sh - h) // 2
    return (
        np.ascontiguousarray(rgb[y : y + h, x : x + w].transpose(2, 0, 1), dtype=np.float32) / 255.0
    )


def main() -> None:
    a = args(__doc__ or "")
    src_w, src_h = (64, 48) if a.smoke else (1920, 1080)
    model_size = (32, 32) if a.smoke else (512, 512)
    frame = pattern_frame(src_w, src_h)
    av_frame = av.VideoFrame.from_ndarray(frame, format="yuv420p")
    info = machine()
    ref_iterations = max(1, a.iterations // 10)
    gpu_frame = on_gpu(frame)

    def cuda_timing(swscale_ms: float, **kw: object) -> dict[str, float]:
        if gpu_frame is None:
            return {}
        cuda_ms = time_ms(lambda: ops.yuv_to_rgb(gpu_frame, **kw), a.iterations)
        return {
            "cuda_ms": round(cuda_ms, 3),
            "cuda_speedup_vs_swscale": round(swscale_ms / cuda_ms, 1),
        }

    def record(
        case: str,
        native_ms: float,
        reference_ms: float,
        swscale_ms: float,
        diff: float,
        **extra: object,
    ) -> None:
        emit(
            {
                "bench": "convert",
                "case": case,
                "machine": info,
                "native_ms": round(native_ms, 3),
                "reference_ms": round(reference_ms, 3),
                "swscale_ms": round(swscale_ms, 3),
                "speedup_vs_swscale": round(swscale_ms / native_ms, 2),
                "speedup_vs_reference": round(reference_ms / native_ms, 1),
                "max_abs_diff": diff,
                **extra,
            }
        )

    # yuv420p -> RGB24, BT.601 limited: libswscale's default for this input.
    kw = dict(matrix="bt601")
    t = compare_ms(
        {
            "native": lambda: ops.yuv_to_rgb(frame, **kw),
            "swscale": lambda: av_frame.to_ndarray(format="rgb24"),
            "swscale_frame": lambda: av_frame.reformat(format="rgb24"),
        },
        a.iterations,
    )
    native_ms, swscale_ms, swscale_frame_ms = t["native"], t["swscale"], t["swscale_frame"]
    reference_ms = time_ms(lambda: ops.yuv_to_rgb_reference(frame, **kw), ref_iterations, warmup=0)
    got, want = ops.yuv_to_rgb(frame, **kw), ops.yuv_to_rgb_reference(frame, **kw)
    diff = int(np.abs(got.astype(int) - want.astype(int)).max())
    check(diff <= 1, f"rgb24 differs from the reference by {diff} LSB")
    sws_diff = int(np.abs(got.astype(int) - av_frame.to_ndarray(format="rgb24").astype(int)).max())
    record(
        f"{src_w}x{src_h} yuv420p -> rgb24",
        native_ms,
        reference_ms,
        swscale_ms,
        diff,
        swscale_reformat_only_ms=round(swscale_frame_ms, 3),
        speedup_vs_swscale_reformat_only=round(swscale_frame_ms / native_ms, 2),
        max_abs_diff_vs_swscale=sws_diff,
        **cuda_timing(swscale_ms, **kw),
    )

    # yuv420p -> float32 planar RGB, cover-resized for a model.
    mw, mh = model_size
    kw2 = dict(size=model_size, mode="cover", dtype="float32", layout="chw")
    t = compare_ms(
        {
            "native": lambda: ops.yuv_to_rgb(frame, **kw2),
            "swscale": lambda: swscale_cover_float(av_frame, mw, mh),
        },
        a.iterations,
    )
    native_ms, swscale_ms = t["native"], t["swscale"]
    reference_ms = time_ms(lambda: ops.yuv_to_rgb_reference(frame, **kw2), ref_iterations, warmup=0)
    got_f, want_f = ops.yuv_to_rgb(frame, **kw2), ops.yuv_to_rgb_reference(frame, **kw2)
    diff_f = float(np.abs(got_f - want_f).max())
    check(diff_f <= 2 / 219 * 1.5, f"float output differs from the reference by {diff_f}")
    record(
        f"{src_w}x{src_h} yuv420p -> float32 chw {mw}x{mh} cover",
        native_ms,
        reference_ms,
        swscale_ms,
        round(diff_f, 5),
        **cuda_timing(swscale_ms, **kw2),
    )


if __name__ == "__main__":
    main()
