"""The SDK side of bench_live: one `noop` live-video-to-video job through the real
livepeer-gateway SDK, frames sent in real time, each one's send and arrival times recorded.
Executed by the SDK's own Python (>= 3.12, no numpy there), like tests/live/sdk_lv2v.py.

python live_sdk_run.py '{"url": "https://127.0.0.1:8935", "seconds": 20, "fps": 30, "size": 512}'

Each frame carries its number in 16 black/white bars across a band in the middle of the luma
plane, over a moving textured background (so x264 has real work on both sides). Prints one JSON
object, {"sent": {n: t}, "got": {n: t}, "last_send": t, "close_at": t, ...} with monotonic
times in seconds, or {"error": <type>, "message": <text>}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from fractions import Fraction
from typing import Any

import av
from livepeer_gateway import MediaPublishConfig, StartJobRequest, VideoOutputConfig, start_lv2v

BITS = 16
BAND = 64  # rows of the bars band, centred
TAIL_WAIT_S = 10.0  # after the last frame is sent, the longest wait for the output to catch up
QUIET_S = 1.0  # ... ending earlier once nothing arrived for this long (codec delays hold the
# last few frames until the stream ends: those come out at close)
# A textured ramp; frame i starts row y at offset 4 i + 3 y, so the picture drifts diagonally.
PATTERN = bytes(((x * 5) % 224 + 16) ^ (32 if (x // 8) % 2 else 0) for x in range(4096))


def make_frame(i: int, fps: int, size: int) -> av.VideoFrame:
    """A yuv420p frame numbered `i`, its pts i / fps."""
    bar = size // BITS
    bars = b"".join(bytes([235 if (i >> b) & 1 else 16]) * bar for b in range(BITS))
    bars = bars.ljust(size, b"\x10")
    top = (size - BAND) // 2
    rows = [
        bars if top <= y < top + BAND else PATTERN[(4 * i + 3 * y) % 2048 :][:size]
        for y in range(size)
    ]
    frame = av.VideoFrame(size, size, "yuv420p")
    frame.planes[0].update(b"".join(rows))
    chroma = bytes([128]) * (size * size // 4)
    frame.planes[1].update(chroma)
    frame.planes[2].update(chroma)
    frame.pts, frame.time_base = i, Fraction(1, fps)
    return frame


def read_number(frame: av.VideoFrame) -> int:
    plane = frame.planes[0]
    data = memoryview(plane)
    y, bar = frame.height // 2, frame.width // BITS
    row = y * plane.line_size
    return sum(int(data[row + b * bar + bar // 2] > 128) << b for b in range(BITS))


async def run(cmd: dict[str, Any]) -> dict[str, Any]:
    fps, size = int(cmd["fps"]), int(cmd["size"])
    n = round(float(cmd["seconds"]) * fps)
    params = {"width": size, "height": size}
    started = time.monotonic()
    job = start_lv2v([cmd["url"]], StartJobRequest(model_id="noop", params=params))
    start_s = time.monotonic() - started
    frames = [make_frame(i, fps, size) for i in range(n)]  # NOTE: drawn before the clock starts
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    output = job.media_output()

    async def read_output() -> None:
        async for item in output.frames():
            if item.kind == "video":
                got.setdefault(read_number(item.frame), time.monotonic())

    reader = asyncio.create_task(read_output())
    config = VideoOutputConfig(fps=fps, keyframe_interval_s=float(cmd.get("segment_s", 2.0)))
    media = job.start_media(MediaPublishConfig(tracks=[config]))
    t0 = time.monotonic()
    for i, frame in enumerate(frames):
        await asyncio.sleep(max(0.0, t0 + i / fps - time.monotonic()))
        sent[i] = time.monotonic()
        await media.write_frame(frame)
    last_send = time.monotonic()
    deadline = last_send + TAIL_WAIT_S
    while n - 1 not in got and time.monotonic() < deadline:
        if time.monotonic() - max(got.values(), default=last_send) > QUIET_S:
            break
        await asyncio.sleep(0.05)
    close_at = time.monotonic()
    await job.close()
    await asyncio.wait_for(reader, 15)
    return {
        "start_s": start_s,
        "sent": sent,
        "got": got,
        "last_send": last_send,
        "close_at": close_at,
        "late_send_s": max(sent[i] - (t0 + i / fps) for i in sent),
    }


if __name__ == "__main__":
    try:
        result = asyncio.run(run(json.loads(sys.argv[1])))
    except Exception as err:
        result = {"error": type(err).__name__, "message": str(err)}
    print(json.dumps(result))
