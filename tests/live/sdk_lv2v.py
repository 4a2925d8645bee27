"""Runs a live-video-to-video job with the real livepeer-gateway SDK; executed by the SDK's own
Python (>= 3.12, no numpy there), like tests/serve/sdk_client.py.

python sdk_lv2v.py '{"url": "https://127.0.0.1:8935", "seconds": 7, "fps": 30}'

Starts `noop`, publishes frames whose index is drawn as 8 bars in the luma plane, reads the
output with `media_output().frames()`, writes one control message, reads events, closes.
Prints one JSON object: what came back, or {"error": <type>, "message": <text>}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from fractions import Fraction
from typing import Any

import av
from livepeer_gateway import (
    MediaPublishConfig,
    StartJobRequest,
    VideoOutputConfig,
    start_lv2v,
)
from livepeer_gateway.channel_reader import ChannelReader

SIZE = 256


def make_frame(i: int, fps: int) -> av.VideoFrame:
    row = bytearray()
    for b in range(8):
        row += bytes([235 if (i >> b) & 1 else 16]) * (SIZE // 8)
    frame = av.VideoFrame(SIZE, SIZE, "yuv420p")
    frame.planes[0].update(bytes(row) * SIZE)
    frame.planes[1].update(bytes([128]) * (SIZE * SIZE // 4))
    frame.planes[2].update(bytes([128]) * (SIZE * SIZE // 4))
    frame.pts, frame.time_base = i, Fraction(1, fps)
    return frame


def read_index(frame: av.VideoFrame) -> int:
    plane = frame.planes[0]
    data = bytes(plane)
    y = frame.height // 2
    bits = [data[y * plane.line_size + (2 * b + 1) * frame.width // 16] > 128 for b in range(8)]
    return sum(int(bit) << b for b, bit in enumerate(bits))


async def run(cmd: dict[str, Any]) -> dict[str, Any]:
    fps, n = cmd.get("fps", 30), round(cmd.get("seconds", 7) * cmd.get("fps", 30))
    job = start_lv2v([cmd["url"]], StartJobRequest(model_id="noop", params=cmd.get("params")))
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    events: list[dict[str, Any]] = []
    output = job.media_output()

    async def read_output() -> None:
        async for item in output.frames():
            if item.kind == "video":
                got.setdefault(read_index(item.frame), time.monotonic())

    async def read_events() -> None:
        async for ev in ChannelReader(job.events_url)(start_seq=0):
            events.append(ev)

    reader = asyncio.create_task(read_output())
    event_reader = asyncio.create_task(read_events())
    media = job.start_media(MediaPublishConfig(tracks=[VideoOutputConfig(fps=fps)]))
    t0 = time.monotonic()
    for i in range(n):
        await asyncio.sleep(max(0.0, t0 + i / fps - time.monotonic()))
        if i == fps:  # one second in
            assert job.control is not None
            await job.control.write({"type": "update", "params": {"prompt": "from the sdk"}})
        sent[i] = time.monotonic()
        await media.write_frame(make_frame(i, fps))
    # Everything sent has been encoded; wait for the tail of the output, then close.
    deadline = time.monotonic() + 10
    while len(got) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await job.close()  # media (DELETE of the input channel), control, payments
    await asyncio.wait_for(reader, 15)
    await asyncio.wait_for(event_reader, 15)
    latency = sorted(got[i] - sent[i] for i in got if i in sent)
    return {
        "sent": n,
        "received": len(got),
        "in_order": sorted(got) == list(got),
        "latency_p50_s": latency[len(latency) // 2] if latency else None,
        "latency_p95_s": latency[int(len(latency) * 0.95)] if latency else None,
        "output_fps": len(got) / (max(got.values()) - min(got.values())) if len(got) > 1 else 0,
        "manifest_id": job.manifest_id,
        "events": events,
    }


if __name__ == "__main__":
    try:
        result = asyncio.run(run(json.loads(sys.argv[1])))
    except Exception as err:
        result = {"error": type(err).__name__, "message": str(err)}
    print(json.dumps(result))
