"""Multi-output resize: lpengine native vs numpy reference vs libswscale (PyAV), same frames.

python -m bench.ops.bench_resize [--smoke] [--iterations N]
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from bench.harness import args, check, compare_ms, emit, machine, on_gpu, time_ms
from bench.ops.frames import pattern_frame
from lpengine import ops

LADDER = [(1280, 720), (854, 480), (640, 360)]


def main() -> None:
    a = args(__doc__ or "")
    src_w, src_h = (64, 48) if a.smoke else (1920, 1080)
    ladder = [(32, 24), (16, 12)] if a.smoke else LADDER
    frame = pattern_frame(src_w, src_h)
    av_frame = av.VideoFrame.from_ndarray(frame, format="yuv420p")
    info = machine()
    gpu_frame = on_gpu(frame)
    cases = [[size] for size in ladder] + [ladder]
    for sizes in cases:
        # One reformatter per output keeps each libswscale context warm, as ffmpeg's split +
        # scale filters do; PyAV's frame.reformat() would rebuild it whenever the size changes.
        scalers = [VideoReformatter() for _ in sizes]
        timings = compare_ms(
            {
                "native": lambda s=sizes: ops.resize(frame, s),
                "swscale": lambda s=sizes, r=scalers: [
                    sc.reformat(av_frame, width=w, height=h, interpolation="AREA")
                    for sc, (w, h) in zip(r, s, strict=True)
                ],
            },
            a.iterations,
        )
        native_ms, swscale_ms = timings["native"], timings["swscale"]
        reference_ms = time_ms(
            lambda s=sizes: ops.resize_reference(frame, s), max(1, a.iterations // 25), warmup=0
        )
        got = ops.resize(frame, sizes)
        want = ops.resize_reference(frame, sizes)
        diff = max(
            int(np.abs(g.astype(int) - r.astype(int)).max()) for g, r in zip(got, want, strict=True)
        )
        check(diff <= 1, f"native differs from the reference by {diff} LSB")
        gpu: dict[str, float] = {}
        if gpu_frame is not None:
            cuda = [o.to_host() for o in ops.resize(gpu_frame, sizes)]
            check(all(np.array_equal(c, g) for c, g in zip(cuda, got, strict=True)), "CUDA != CPU")
            cuda_ms = time_ms(lambda s=sizes: ops.resize(gpu_frame, s), a.iterations)
            gpu = {
                "cuda_ms": round(cuda_ms, 3),
                "cuda_speedup_vs_swscale": round(swscale_ms / cuda_ms, 1),
            }
        emit(
            {
                "bench": "resize",
                "case": f"{src_w}x{src_h} -> " + " + ".join(f"{w}x{h}" for w, h in sizes),
                "outputs": len(sizes),
                "machine": info,
                "native_ms": round(native_ms, 3),
                "reference_ms": round(reference_ms, 3),
                "swscale_ms": round(swscale_ms, 3),
                "speedup_vs_swscale": round(swscale_ms / native_ms, 2),
                "speedup_vs_reference": round(reference_ms / native_ms, 1),
                "max_abs_diff_lsb": diff,
                **gpu,
            }
        )


if __name__ == "__main__":
    main()
