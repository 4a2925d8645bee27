"""A 2 s 1080p30 segment to a 720p/480p/360p ladder: lpengine vs the ffmpeg CLI vs a PyAV loop.

python -m bench.pipelines.bench_transcode [--smoke] [--iterations N]

The segment is synthetic (a scrolling textured pattern with moving blocks, H.264 in MPEG-TS,
made with PyAV). The ladder is 1280x720 @ 4000k, 854x480 @ 1500k, 640x360 @ 1200k, libx264
veryfast, the input's frame rate, MPEG-TS out, for all three contenders:
- lpengine: `transcode_segment` (decode once, one native multi-output resize per frame, one
  encoder thread per rendition, muxed in memory);
- the ffmpeg CLI (Debian's `ffmpeg`, installed by `make tools`): one decode, `split` + `scale`
  filters, three outputs written to tmpfs;
- a plain PyAV loop: decode, `reformat` per rendition, encode, one thread.
Each is timed round-robin (wall time, CPU seconds, real-time factor = segment seconds / wall
seconds), and each rendition's PSNR (Y, dB) is measured against the source frames scaled by the
contender's own scaler (the encoder's loss alone) and against one common reference, the source
scaled by swscale's Lanczos (what a viewer gets: scaler and encoder). Then 1, 2 and 4 streams at
once: the real-time ratio per stream, and the most streams that keep it >= 0.8 (go-livepeer's
rule for a session limit).
"""

from __future__ import annotations

import io
import math
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from bench.harness import args, check, emit, machine
from lpengine import ops
from lpengine.media.profile import VideoProfile
from lpengine.media.transcode import transcode_segment

LADDER = [(1280, 720, 4_000_000), (854, 480, 1_500_000), (640, 360, 1_200_000)]
SMOKE_LADDER = [(320, 180, 400_000), (214, 120, 200_000)]
REALTIME_RULE = 0.8
PRESET = "veryfast"


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    renditions: list[bytes]


def make_segment(width: int, height: int, fps: int, seconds: float) -> bytes:
    """H.264 (x264 medium, 8 Mb/s at 1080p) MPEG-TS: textured scroll plus moving blocks."""
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 64, (height * 2, width * 2), np.uint8)
    y, x = np.mgrid[0:height, 0:width]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.bit_rate = 8_000_000 * width * height // (1920 * 1080)
        vs.codec_context.gop_size = fps * 2
        vs.codec_context.options = {"preset": "medium"}
        for i in range(round(fps * seconds)):
            dx, dy = (3 * i) % width, (2 * i) % height
            luma = (((x + 2 * i) % 256) // 2 + texture[dy : dy + height, dx : dx + width]).astype(
                np.uint8
            )
            bx = (i * width // (fps * 2)) % (width - width // 8)
            luma[height // 3 : height // 3 + height // 6, bx : bx + width // 8] = 235
            u = (96 + (x[::2, ::2] + i) % 64).astype(np.uint8)
            v = (100 + (y[::2, ::2] - i) % 48).astype(np.uint8)
            chroma = np.concatenate([u.reshape(-1), v.reshape(-1)]).reshape(height // 2, width)
            frame = av.VideoFrame.from_ndarray(np.vstack([luma, chroma]), format="yuv420p")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return buf.getvalue()


def _profiles(ladder: list[tuple[int, int, int]]) -> list[VideoProfile]:
    return [VideoProfile(f"{h}p", w, h, rate) for w, h, rate in ladder]


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], list[bytes]]) -> Run:
    cpu, start = _cpu_s(), time.perf_counter()
    out = fn()
    return Run(time.perf_counter() - start, _cpu_s() - cpu, out)


def lpengine_ladder(segment: bytes, profiles: list[VideoProfile]) -> list[bytes]:
    return [r.data for r in transcode_segment(segment, profiles).renditions]


def ffmpeg_ladder(segment: bytes, ladder: list[tuple[int, int, int]], tmp: Path) -> list[bytes]:
    """One ffmpeg process: decode once, split, scale, three libx264 outputs on tmpfs."""
    src = tmp / f"in-{threading.get_ident()}.ts"
    src.write_bytes(segment)
    labels = "".join(f"[s{i}]" for i in range(len(ladder)))
    graph = [f"[0:v]split={len(ladder)}{labels}"]
    graph += [f"[s{i}]scale={w}:{h}[o{i}]" for i, (w, h, _) in enumerate(ladder)]
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src)]
    cmd += ["-filter_complex", ";".join(graph)]
    outs = [tmp / f"out-{threading.get_ident()}-{i}.ts" for i in range(len(ladder))]
    for i, ((_, _, rate), path) in enumerate(zip(ladder, outs, strict=True)):
        cmd += ["-map", f"[o{i}]", "-c:v", "libx264", "-preset", PRESET, "-b:v", str(rate)]
        cmd += ["-f", "mpegts", str(path)]
    subprocess.run(cmd, check=True)
    data = [p.read_bytes() for p in outs]
    for p in [src, *outs]:
        p.unlink()
    return data


def pyav_ladder(segment: bytes, ladder: list[tuple[int, int, int]]) -> list[bytes]:
    """The plain loop: decode, reformat per rendition, encode; one thread, muxed in memory."""
    bufs = [io.BytesIO() for _ in ladder]
    outs = [av.open(b, "w", format="mpegts") for b in bufs]
    with av.open(io.BytesIO(segment)) as src:
        video = src.streams.video[0]
        video.thread_type = "AUTO"
        streams = []
        for out, (w, h, rate) in zip(outs, ladder, strict=True):
            s = out.add_stream("libx264", rate=video.average_rate)
            s.width, s.height, s.pix_fmt, s.bit_rate = w, h, "yuv420p", rate
            s.codec_context.time_base = video.time_base
            s.codec_context.options = {"preset": PRESET}
            streams.append(s)
        for frame in src.decode(video):
            for out, s, (w, h, _) in zip(outs, streams, ladder, strict=True):
                scaled = frame.reformat(w, h, "yuv420p")
                scaled.pts, scaled.time_base = frame.pts, frame.time_base
                out.mux(s.encode(scaled))
    for out, s in zip(outs, streams, strict=True):
        out.mux(s.encode(None))
        out.close()
    return [b.getvalue() for b in bufs]


def _decode_y(data: bytes) -> list[NDArray[np.uint8]]:
    with av.open(io.BytesIO(data)) as c:
        return [f.to_ndarray(format="yuv420p")[: f.height] for f in c.decode(video=0)]


def _psnr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def psnr_per_rendition(
    source: list[Any], renditions: list[bytes], scale: Callable[[Any, int, int], NDArray[np.uint8]]
) -> tuple[list[float], list[int]]:
    """Mean Y PSNR of each rendition against `scale(source frame)`; frame counts."""
    values, counts = [], []
    for data in renditions:
        got = _decode_y(data)
        h, w = got[0].shape
        n = min(len(got), len(source))
        values.append(statistics.fmean(_psnr(got[i], scale(source[i], w, h)) for i in range(n)))
        counts.append(len(got))
    return values, counts


def _scale_lpengine(frame: Any, w: int, h: int) -> NDArray[np.uint8]:
    return ops.resize(frame.to_ndarray(format="yuv420p"), [(w, h)])[0][:h]


def _scale_swscale(interpolation: str | None) -> Callable[[Any, int, int], NDArray[np.uint8]]:
    def scale(frame: Any, w: int, h: int) -> NDArray[np.uint8]:
        out = frame.reformat(w, h, "yuv420p", interpolation=interpolation)
        return out.to_ndarray(format="yuv420p")[:h]

    return scale


def concurrent_ratio(work: Callable[[], object], streams: int, seconds: float) -> float:
    """`streams` segments transcoded at once; the slowest one's real-time ratio."""
    walls: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        start = time.perf_counter()
        work()
        with lock:
            walls.append(time.perf_counter() - start)

    threads = [threading.Thread(target=one) for _ in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(len(walls) == streams, "a concurrent transcode failed")
    return seconds / max(walls)


def main() -> None:
    a = args(__doc__ or "")
    check(shutil.which("ffmpeg") is not None, "the ffmpeg CLI is missing (run `make tools`)")
    if a.smoke:
        width, height, fps, seconds, ladder, levels = 640, 360, 30, 0.5, SMOKE_LADDER, [1, 2]
    else:
        width, height, fps, seconds, ladder, levels = 1920, 1080, 30, 2.0, LADDER, [1, 2, 4]
    iterations = min(a.iterations, 1 if a.smoke else 5)
    segment = make_segment(width, height, fps, seconds)
    profiles = _profiles(ladder)
    with av.open(io.BytesIO(segment)) as c:
        source = list(c.decode(video=0))
    frames = len(source)

    tmpfs = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=tmpfs) as tmp_dir:
        tmp = Path(tmp_dir)
        contenders: dict[str, Callable[[], list[bytes]]] = {
            "lpengine": lambda: lpengine_ladder(segment, profiles),
            "ffmpeg_cli": lambda: ffmpeg_ladder(segment, ladder, tmp),
            "pyav_loop": lambda: pyav_ladder(segment, ladder),
        }
        for fn in contenders.values():  # warm-up: codecs loaded, pools filled
            fn()
        runs: dict[str, list[Run]] = {name: [] for name in contenders}
        for _ in range(iterations):
            for name, fn in contenders.items():
                runs[name].append(_timed(fn))

        scalers = {
            "lpengine": _scale_lpengine,
            "ffmpeg_cli": _scale_swscale("BICUBIC"),  # the scale filter's default
            "pyav_loop": _scale_swscale(None),  # PyAV's reformat default (bilinear)
        }
        summary: dict[str, dict[str, Any]] = {}
        lanczos = _scale_swscale("LANCZOS")
        for name, samples in runs.items():
            psnr, counts = psnr_per_rendition(source, samples[-1].renditions, scalers[name])
            common, _ = psnr_per_rendition(source, samples[-1].renditions, lanczos)
            check(counts == [frames] * len(ladder), f"{name}: {counts} frames, want {frames}")
            check(min(psnr) > 25, f"{name}: PSNR {psnr} is too low: the output is wrong")
            wall = statistics.median(r.wall_s for r in samples)
            summary[name] = {
                "wall_ms": round(wall * 1e3, 1),
                "cpu_s": round(statistics.median(r.cpu_s for r in samples), 3),
                "realtime_factor": round(seconds / wall, 3),
                "psnr_y_db": [round(p, 2) for p in psnr],
                "psnr_y_db_vs_lanczos": [round(p, 2) for p in common],
            }
        wall = {name: s["wall_ms"] for name, s in summary.items()}
        emit(
            {
                "bench": "transcode_ladder",
                "machine": machine(),
                "segment": f"{width}x{height}@{fps} {seconds}s H.264 MPEG-TS, {len(segment)} B",
                "ladder": [f"{w}x{h}@{r // 1000}k" for w, h, r in ladder],
                "iterations": iterations,
                **summary,
                "speedup_vs_ffmpeg_cli": round(wall["ffmpeg_cli"] / wall["lpengine"], 3),
                "speedup_vs_pyav_loop": round(wall["pyav_loop"] / wall["lpengine"], 3),
            }
        )

        for name in ("lpengine", "ffmpeg_cli"):
            fn = contenders[name]
            ratios = {n: round(concurrent_ratio(fn, n, seconds), 3) for n in levels}
            ok = [n for n, r in ratios.items() if r >= REALTIME_RULE]
            emit(
                {
                    "bench": f"transcode_concurrency_{name}",
                    "machine": machine(),
                    "realtime_ratio_by_streams": ratios,
                    "max_streams_at_0_8": max(ok, default=0),
                    "speedup_vs_realtime": ratios[levels[0]],
                }
            )


if __name__ == "__main__":
    main()
