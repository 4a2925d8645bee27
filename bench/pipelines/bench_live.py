"""Live video-to-video with `noop` at 512x512, 30 fps: through the livepeer-gateway SDK, and
lpengine's per-frame path against the reference runner's.

python -m bench.pipelines.bench_live [--smoke] [--iterations N] [--path-only] [--cuda]

Two records, one run:
- `path`: the per-frame cost of decode -> convert -> pipeline -> convert back -> encode over a
  synthetic 512x512 30 fps H.264 clip (a textured scroll with moving blocks), CPU time and wall
  time per frame, timed round-robin. Each approach runs in the two threads it has in service,
  frames handed over a bounded queue: a decoder thread and an output thread.
  lpengine, as a stream's session does it: the decoder thread decodes with PyAV to yuv420p
  arrays (live/decode.py); the worker converts with one native cover-resize + conversion to
  float RGB into arrays reused once the pipeline lets go of them (`InputConverter`), runs
  `noop`, converts back to yuv420p in one native call (rounding to 8-bit RGB fused in) into a
  buffer reused across frames, and encodes with x264 through `LiveEncoder` reading that buffer
  in place, one x264 thread (one slice) at 512x512 as live/encode.py picks for frames up to
  640x480. The reference runner's approach, as livepeer/ai-runner's live `trickle/decoder.py`
  and `trickle/encoder.py` do it: its decoder thread decodes, makes `frame.to_image()` (a PIL
  RGB image; no crop or resize at 512x512), `np.array(image).astype(np.float32) / 255.0`,
  `torch.tensor(...)` (a copy) unsqueezed; its encoder thread runs `noop` (inline: see the hop
  below), `(tensor * 255).byte().cpu().numpy()` (no clamp), `Image.fromarray`,
  `VideoFrame.from_image`, and libx264 with ai-runner's options (`superfast`, `zerolatency`,
  `forced-idr`, no B-frames: lpengine's too) and x264's default threads (sliced threads, a
  slice per core, as ai-runner leaves them), after PyAV's conversion to yuv420p (timed with
  the conversion out). Both outputs' quality is reported (PSNR of all three planes against the
  input clip's decoded frames, and MPEG-TS bytes per frame), so that a cheaper encode shows
  whether it costs quality. Torch gets one thread, as a stream's frame loop has; with its
  default pool on a shared 2-core machine its element-wise ops took tens of ms a frame, which
  would flatter lpengine. CPU time: the whole process's per frame (compared), and each
  thread's own by stage (decode, convert in, pipeline, convert out, encode; helper threads
  apart). Target: the whole path >= 2x cheaper in CPU time.
  Timed apart, not in the target: ai-runner runs the pipeline in a spawned process, each frame
  going there and back through torch multiprocessing queues (`reference_process_hop_cpu_ms`,
  both processes' CPU); lpengine runs it in-process.
  `--cuda` (a GPU machine: bench/gpu/run.sh): the same record with the pipeline on the GPU:
  lpengine uploads yuv420p, converts there and back and encodes with NVENC where it opens;
  ai-runner's tensor goes to CUDA after its host conversions (its `send_input`) and comes back
  for its host conversions and x264.
- `sdk`: a `python -m lpengine.serve` subprocess and the real SDK (its own venv, `.venv-sdk`, or
  $LPENGINE_SDK_PYTHON) publishing 512x512 frames at 30 fps with `start_media`/`write_frame`
  and reading `media_output().frames()`. Each frame carries its number in black/white bars;
  added latency = arrival of the output frame - send of the same input frame (p50, p95, over
  the frames that arrive before the job is closed: the last few are held by codec delays until
  the stream ends, and are counted apart);
  sustained output fps = output frames arriving from 1 s after the first one until the last
  input frame was sent, over that window (startup and the end-of-stream drain are not counted).
  Targets: >= 30 fps (within 5 %), latency p50 <= one input segment (2 s) + 200 ms.
"""

from __future__ import annotations

import functools
import io
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from PIL import Image

from bench.harness import args, check, emit, machine
from bench.pipelines.bench_transcode import make_segment
from bench.serve.server import BenchServer
from lpengine.live.decode import yuv420p
from lpengine.live.encode import SOFTWARE, TIME_BASE, X264_OPTIONS, LiveEncoder, open_encoder
from lpengine.live.frames import InputConverter, OutputConverter
from lpengine.live.pipelines import NoopPipeline

ROOT = Path(__file__).resolve().parents[2]
SDK_SCRIPT = Path(__file__).with_name("live_sdk_run.py")
SIZE, FPS, SEGMENT_S = 512, 30, 2.0
WARMUP_S = 1.0  # output before this long after the first frame is startup, not throughput
TARGET_SPEEDUP = 2.0


class NullSink:
    def __init__(self) -> None:
        self.bytes = 0
        self.encoder = SOFTWARE

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)

    def cut(self) -> None:
        pass


class KeepSink(NullSink):
    """Keeps the stream, for the quality check (outside the timed runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return super().write(data)


def yuv_frames(stream: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(stream), format="mpegts") as container:
        return [yuv420p(f) for f in container.decode(video=0)]


def quality(clip: bytes, output: bytes) -> dict[str, float]:
    """PSNR (dB) of the output's frames against the input clip's decoded frames, all three
    yuv420p planes, and the output's MPEG-TS bytes per frame."""
    want, got = yuv_frames(clip), yuv_frames(output)
    check(len(got) == len(want), f"{len(got)} frames out of {len(want)} in")
    mse = statistics.fmean(
        float(np.mean((a.astype(np.float64) - b) ** 2)) for a, b in zip(want, got, strict=True)
    )
    psnr = 10 * np.log10(255.0**2 / mse) if mse else float("inf")
    return {"psnr_db": round(float(psnr), 2), "bytes_per_frame": round(len(output) / len(got))}


STAGES = ("decode", "convert_in", "pipeline", "convert_out", "encode")
CONVERT = ("convert_in", "pipeline", "convert_out")  # where the two approaches differ
QUEUE_FRAMES = 8  # between the decoder thread and the output thread; the bench drops none


class Stages:
    """CPU seconds per stage of one thread (time.thread_time: this thread's own CPU)."""

    def __init__(self) -> None:
        self.cpu_s = dict.fromkeys(STAGES, 0.0)
        self._t = time.thread_time()

    def lap(self, stage: str) -> None:
        now = time.thread_time()
        self.cpu_s[stage] += now - self._t
        self._t = now


class Run:
    """One pass over the clip: CPU of the whole process, of each of the two threads by stage,
    and wall time."""

    def __init__(self, cpu_s: float, wall_s: float, threads: list[Stages]) -> None:
        self.cpu_s, self.wall_s = cpu_s, wall_s
        self.stage_s = {k: sum(t.cpu_s[k] for t in threads) for k in STAGES}
        # NOTE: CPU of neither thread: helper threads (x264's slice threads for the reference,
        # libavcodec's decoding threads for both, lpengine's native pool for its conversions).
        self.stage_s["other_threads"] = cpu_s - sum(self.stage_s.values())


Item = tuple[Any, float] | None


def two_threads(
    decode: Callable[[Callable[[Item], None], Stages], None],
    output: Callable[[Callable[[], Item], Stages], None],
) -> Run:
    """decode(put, stages) in a decoder thread, output(get, stages) in this thread, frames
    handed over a bounded queue, as both a stream's session and ai-runner split the work."""
    frames: queue.Queue[Item] = queue.Queue(QUEUE_FRAMES)
    stages = [Stages(), Stages()]
    cpu0, wall0 = time.process_time(), time.perf_counter()

    def decoder() -> None:
        stages[0] = Stages()
        try:
            decode(frames.put, stages[0])
        finally:
            frames.put(None)

    thread = threading.Thread(target=decoder, name="bench-decoder")
    thread.start()
    stages[1] = Stages()
    output(frames.get, stages[1])
    thread.join()
    return Run(time.process_time() - cpu0, time.perf_counter() - wall0, stages)


def lpengine_path(clip: bytes, sink: NullSink, device: str = "cpu") -> Run:
    """A stream's session: the decoder thread decodes to yuv420p arrays (live/decode.py), the
    worker converts, runs the pipeline, converts back and encodes (session._work). With a CUDA
    `device`: noop on that device, the conversions there, NVENC where it opens."""

    def decode(put: Callable[[Item], None], t: Stages) -> None:
        with av.open(io.BytesIO(clip), format="mpegts") as container:
            stream = container.streams.video[0]
            stream.thread_type = "SLICE"  # as live/decode.py
            for frame in container.decode(stream):
                item = (yuv420p(frame), float(frame.time))
                t.lap("decode")
                put(item)

    def output(get: Callable[[], Item], t: Stages) -> None:
        pipeline = NoopPipeline({})
        pipeline.device = device
        convert_in, convert = InputConverter(), OutputConverter()
        encoder: LiveEncoder | None = None
        preferred = SOFTWARE if device == "cpu" else "h264_nvenc"
        while (item := get()) is not None:
            t.lap("decode")  # NOTE: waiting costs no CPU; the queue's own work is counted here
            frame, time_s = item
            tensor = convert_in(frame, pipeline.width, pipeline.height, device)
            t.lap("convert_in")
            result = pipeline.process(tensor)
            t.lap("pipeline")
            out = convert(result)
            t.lap("convert_out")
            if encoder is None:
                encoder = open_encoder(sink, out.shape[1], out.shape[0] * 2 // 3, None, preferred)
                sink.encoder = encoder.encoder
            encoder.encode(out, time_s)
            t.lap("encode")
        assert encoder is not None
        encoder.close()
        t.lap("encode")

    run = two_threads(decode, output)
    check(sink.bytes > 0, "lpengine encoded nothing")
    return run


def reference_path(clip: bytes, sink: NullSink, device: str = "cpu") -> Run:
    """ai-runner's way: its decoder thread makes a PIL image, then a float numpy array, then a
    tensor (trickle/decoder.py); its encoder thread turns the pipeline's tensor into bytes, a
    PIL image and a VideoFrame, and encodes (trickle/encoder.py). Its pipeline runs in another
    process; here `noop` runs inline in the encoder thread (the process hop is timed apart)."""

    def decode(put: Callable[[Item], None], t: Stages) -> None:
        with av.open(io.BytesIO(clip), format="mpegts") as container:
            for frame in container.decode(video=0):
                t.lap("decode")
                image = frame.to_image()  # NOTE: ai-runner's decode_av, step by step
                tensor = torch.tensor(np.array(image).astype(np.float32) / 255.0).unsqueeze(0)
                if device != "cpu":
                    tensor = tensor.to(device)  # NOTE: ai-runner's send_input moves it to CUDA
                item = (tensor, float(frame.time))
                t.lap("convert_in")
                put(item)

    def output(get: Callable[[], Item], t: Stages) -> None:
        pipeline = NoopPipeline({})
        out = av.open(sink, "w", format="mpegts", container_options={"flush_packets": "1"})
        stream = out.add_stream("libx264", rate=FPS)
        ctx = stream.codec_context
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = SIZE, SIZE, "yuv420p", TIME_BASE
        ctx.max_b_frames, ctx.options = 0, dict(X264_OPTIONS)
        t.lap("encode")
        while (item := get()) is not None:
            t.lap("decode")
            tensor, time_s = item
            result = pipeline.process(tensor)
            t.lap("pipeline")
            back = (result.squeeze(0) * 255).byte().cpu().numpy()  # encode_av's conversion
            # NOTE: the encoder would convert RGB to yuv420p itself; done here, it is timed
            # as the conversion it is.
            vf = av.VideoFrame.from_image(Image.fromarray(back)).reformat(format="yuv420p")
            vf.pts, vf.time_base = round(time_s / TIME_BASE), TIME_BASE
            t.lap("convert_out")
            for packet in stream.encode(vf):
                out.mux(packet)
            t.lap("encode")
        for packet in stream.encode(None):
            out.mux(packet)
        out.close()
        t.lap("encode")

    run = two_threads(decode, output)
    check(sink.bytes > 0, "the reference encoded nothing")
    return run


def _echo(inbox: Any, outbox: Any) -> None:
    """The pipeline process's loop, with `noop`: a frame in, the same frame out."""
    while (item := inbox.get()) is not None:
        outbox.put(item)


def process_hop_ms(frames: int) -> float:
    """CPU ms per frame of ai-runner's hop to its pipeline process and back: torch
    multiprocessing queues (spawn context, one slot each way, as streamer/process.py), a
    (1, 512, 512, 3) float tensor each way; both processes' CPU counted."""
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    inbox, outbox = ctx.Queue(maxsize=1), ctx.Queue(maxsize=1)
    child = ctx.Process(target=_echo, args=(inbox, outbox), daemon=True)
    child.start()
    try:
        tensors = [torch.rand(1, SIZE, SIZE, 3) for _ in range(4)]
        for tensor in tensors:  # warm up
            inbox.put(tensor)
            outbox.get()
        # NOTE: a new tensor each frame, as the decoder makes (a tensor sent before is in
        # shared memory already, and would cross cheaper); the clones' own CPU is taken off.
        cpu0 = _process_cpu_s(os.getpid()) + _process_cpu_s(child.pid)
        for i in range(frames):
            inbox.put(tensors[i % len(tensors)].clone())
            outbox.get()
        cpu = _process_cpu_s(os.getpid()) + _process_cpu_s(child.pid) - cpu0
        clone0 = time.process_time()
        for i in range(frames):
            tensors[i % len(tensors)].clone()
        cpu -= time.process_time() - clone0
    finally:
        inbox.put(None)
        child.join(10)
    return cpu * 1e3 / frames


def _process_cpu_s(pid: int | None) -> float:
    """user + system CPU seconds of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_path(iterations: int, seconds: float, device: str = "cpu") -> dict[str, Any]:
    clip = make_segment(SIZE, SIZE, FPS, seconds)
    with av.open(io.BytesIO(clip), format="mpegts") as c:
        frames = sum(1 for _ in c.decode(video=0))
    torch.set_num_threads(1)
    paths: dict[str, Callable[[bytes, NullSink], Run]] = {
        "lpengine": functools.partial(lpengine_path, device=device),
        "reference": functools.partial(reference_path, device=device),
    }
    kept = {name: KeepSink() for name in paths}
    for name, fn in paths.items():  # warm up (codecs, the native pool, torch kernels), keep
        fn(clip, kept[name])
    runs: dict[str, list[Run]] = {name: [] for name in paths}
    for _ in range(iterations):
        for name, fn in paths.items():
            runs[name].append(fn(clip, NullSink()))

    def ms(name: str, keys: tuple[str, ...] | None = None) -> float:
        """Median over iterations of the CPU ms per frame (of the stages in `keys`)."""
        return statistics.median(
            (r.cpu_s if keys is None else sum(r.stage_s[k] for k in keys)) * 1e3 / frames
            for r in runs[name]
        )

    def wall(name: str) -> float:
        return statistics.median(r.wall_s * 1e3 / frames for r in runs[name])

    lp, ref = ms("lpengine"), ms("reference")
    lp_conv, ref_conv = ms("lpengine", CONVERT), ms("reference", CONVERT)
    # NOTE: on a GPU ai-runner hands CUDA tensors over by IPC handle: the host hop is CPU's
    hop = process_hop_ms(frames * 2) if device == "cpu" else None
    stage_keys = (*STAGES, "other_threads")
    return {
        "case": f"path_noop_{SIZE}x{SIZE}" + ("" if device == "cpu" else f"_{device}"),
        "device": device,
        "lpengine_encoder": kept["lpengine"].encoder,
        "frames": frames,
        "iterations": iterations,
        "lpengine_cpu_ms_per_frame": round(lp, 3),
        "reference_cpu_ms_per_frame": round(ref, 3),
        "lpengine_wall_ms_per_frame": round(wall("lpengine"), 3),
        "reference_wall_ms_per_frame": round(wall("reference"), 3),
        "lpengine_stage_cpu_ms": {k: round(ms("lpengine", (k,)), 3) for k in stage_keys},
        "reference_stage_cpu_ms": {k: round(ms("reference", (k,)), 3) for k in stage_keys},
        "speedup_vs_reference_cpu": round(ref / lp, 2),
        "speedup_vs_reference_wall": round(wall("reference") / wall("lpengine"), 2),
        "speedup_vs_reference_convert_cpu": round(ref_conv / lp_conv, 2),
        "reference_process_hop_cpu_ms": None if hop is None else round(hop, 3),
        "speedup_vs_reference_with_hop_cpu": None if hop is None else round((ref + hop) / lp, 2),
        "lpengine_quality": quality(clip, bytes(kept["lpengine"].data)),
        "reference_quality": quality(clip, bytes(kept["reference"].data)),
        "target_speedup": TARGET_SPEEDUP,
        "target_met": ref / lp >= TARGET_SPEEDUP,
    }


def sdk_python() -> Path | None:
    """The venv Python with livepeer-gateway (tests/serve/conftest.py makes `.venv-sdk`)."""
    for candidate in (os.environ.get("LPENGINE_SDK_PYTHON"), str(ROOT / ".venv-sdk/bin/python")):
        if candidate and Path(candidate).exists():
            probe = [candidate, "-c", "import livepeer_gateway"]
            if subprocess.run(probe, capture_output=True).returncode == 0:
                return Path(candidate)
    return None


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_sdk(python: Path, seconds: float) -> dict[str, Any]:
    with BenchServer() as server:
        command = {"url": server.url, "seconds": seconds, "fps": FPS, "size": SIZE}
        command["segment_s"] = SEGMENT_S
        run = subprocess.run(
            [str(python), str(SDK_SCRIPT), json.dumps(command)],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        check(run.returncode == 0, f"SDK run failed: {run.stderr[-3000:]}")
        result = json.loads(run.stdout.strip().splitlines()[-1])
        check("error" not in result, f"SDK run failed: {result} {run.stderr[-3000:]}")
        check("Traceback" not in "".join(server.lines), "".join(server.lines)[-3000:])
    sent = {int(k): v for k, v in result["sent"].items()}
    arrived = {int(k): v for k, v in result["got"].items() if int(k) in sent}
    # NOTE: the last few frames sit in codec delays (each MPEG-TS demuxer holds one frame until
    # the next begins, the SDK's decoder more) until the stream ends: they come out at close.
    got = {i: t for i, t in arrived.items() if t < result["close_at"]}
    check(len(got) > 0, "no output frame came back before close")
    latency = [got[i] - sent[i] for i in got]
    window_start = min(got.values()) + WARMUP_S
    window_s = result["last_send"] - window_start
    check(window_s > 0, f"the run is too short to measure a rate ({seconds} s)")
    steady = sum(1 for t in got.values() if window_start <= t <= result["last_send"])
    fps = steady / window_s
    p50 = percentile(latency, 0.5)
    target_latency_s = SEGMENT_S + 0.2
    return {
        "case": f"sdk_noop_{SIZE}x{SIZE}_{FPS}fps",
        "seconds": seconds,
        "segment_s": SEGMENT_S,
        "start_ms": round(result["start_s"] * 1e3, 1),
        "sent": len(sent),
        "received": len(arrived),
        "flushed_at_close": len(arrived) - len(got),
        "in_order": sorted(arrived, key=arrived.__getitem__) == sorted(arrived),
        "latency_p50_ms": round(p50 * 1e3, 1),
        "latency_p95_ms": round(percentile(latency, 0.95) * 1e3, 1),
        "latency_max_ms": round(max(latency) * 1e3, 1),
        "sustained_output_fps": round(fps, 2),
        "send_late_max_ms": round(result["late_send_s"] * 1e3, 1),
        "speedup_vs_latency_target": round(target_latency_s / p50, 2),
        "speedup_vs_realtime": round(fps / FPS, 3),
        "target_met": p50 <= target_latency_s and fps >= 0.95 * FPS,
    }


def main() -> None:
    a = args(
        __doc__ or "",
        {
            "--path-only": "the `path` record alone (no server, no SDK)",
            "--cuda": "the `path` record on the GPU alone (skipped without one)",
        },
    )
    host = machine()
    load = os.getloadavg()
    base = {"machine": host, "load_avg_1m": round(load[0], 2), "size": SIZE, "fps": FPS}
    if a.cuda:
        if not torch.cuda.is_available():
            print("bench_live: cuda case skipped: torch sees no CUDA GPU", file=sys.stderr)
            return
        emit({**base, **bench_path(a.iterations, 1.0 if a.smoke else 2.0, "cuda")})
        return
    emit({**base, **bench_path(a.iterations, 1.0 if a.smoke else 2.0)})
    if a.path_only:
        return
    python = sdk_python()
    if python is None:
        message = "the livepeer-gateway SDK venv is missing (.venv-sdk or $LPENGINE_SDK_PYTHON)"
        check(a.smoke, message)  # NOTE: a full run must print the SDK figures
        print(f"bench_live: sdk case skipped: {message}", file=sys.stderr)
        return
    record = bench_sdk(python, 3.0 if a.smoke else 20.0)
    emit({**base, "load_avg_1m": round(os.getloadavg()[0], 2), **record})


if __name__ == "__main__":
    main()
