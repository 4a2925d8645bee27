"""Generated MPEG-TS input for live tests: a moving test pattern (and a tone), cut into trickle
segments at key frames, as a gateway's publisher cuts them."""

from __future__ import annotations

import io
import itertools
from fractions import Fraction

import av
import numpy as np


def frame_index(rgb: np.ndarray) -> int:
    """The index drawn into a frame by `ts_segments`: 8 black/white bars across a band in the
    middle, so it survives scaling (a square input keeps every bar under a cover resize)."""
    h, w = rgb.shape[:2]
    band = rgb[h * 7 // 16 : h * 9 // 16]
    bits = [int(band[:, (2 * b + 1) * w // 16].mean() > 128) for b in range(8)]
    return sum(bit << i for i, bit in enumerate(bits))


def ts_segments(
    seconds: float,
    fps: int = 30,
    size: tuple[int, int] = (256, 256),
    gop_s: float = 1.0,
    audio: bool = False,
    first: int = 0,
    first_pts: int | None = None,
) -> list[list[tuple[float, bytes]]]:
    """Segments, each a list of (media time in s, bytes) in the order a publisher writes them;
    every segment starts with a key frame. Frame i carries its index `first + i` in 8
    black/white blocks (`frame_index`) and has pts `first_pts + i` (default `first + i`: one
    clip continuing another's timeline; 0 is a publisher restarting its encoder)."""
    pts0 = first if first_pts is None else first_pts
    w, h = size
    chunks: list[tuple[float, bytes]] = []
    cuts: list[int] = []

    class Sink:
        t = 0.0

        def write(self, data: bytes) -> int:
            chunks.append((self.t, bytes(data)))
            return len(data)

    sink = Sink()
    out = av.open(sink, "w", format="mpegts", container_options={"flush_packets": "1"})
    v = out.add_stream("libx264", rate=fps)
    v.codec_context.width, v.codec_context.height, v.codec_context.pix_fmt = w, h, "yuv420p"
    v.codec_context.gop_size = round(gop_s * fps)
    v.codec_context.max_b_frames = 0
    v.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency", "sc_threshold": "0"}
    a = out.add_stream("aac", rate=48000) if audio else None
    n = round(seconds * fps)
    samples = 0
    for i in range(n):
        rgb = np.zeros((h, w, 3), np.uint8)
        rgb[:, :, 1] = (np.arange(w)[None, :] + 4 * i) % 256
        for b in range(8):
            bar = 255 if ((first + i) >> b) & 1 else 0
            rgb[h * 3 // 8 : h * 5 // 8, b * w // 8 : (b + 1) * w // 8] = bar
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = pts0 + i, Fraction(1, fps)
        sink.t = i / fps
        for packet in v.encode(frame):
            if packet.is_keyframe:
                cuts.append(len(chunks))
            out.mux(packet)
        while a is not None and samples < (i + 1) * 48000 // fps:
            tone = np.sin(np.arange(samples, samples + 1024) / 48000 * 2 * np.pi * 440)
            af = av.AudioFrame.from_ndarray(
                (tone[None, :] * 0.3).astype(np.float32), format="fltp", layout="mono"
            )
            af.sample_rate, af.pts = 48000, samples
            samples += 1024
            for packet in a.encode(af):
                out.mux(packet)
    for stream in (v, a):
        if stream is not None:
            for packet in stream.encode(None):
                out.mux(packet)
    out.close()
    bounds = [*cuts, len(chunks)]
    bounds[0] = 0
    return [chunks[s:e] for s, e in itertools.pairwise(bounds) if e > s]


def decode_indices(data: bytes) -> list[int]:
    """The frame indices of every frame decoded from one MPEG-TS stream."""
    with av.open(io.BytesIO(data), format="mpegts") as c:
        return [frame_index(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def decode_frames(data: bytes) -> list[tuple[int, float, tuple[int, int]]]:
    """(index, time in s, (width, height)) of every frame decoded from one MPEG-TS stream."""
    with av.open(io.BytesIO(data), format="mpegts") as c:
        return [
            (frame_index(f.to_ndarray(format="rgb24")), float(f.time), (f.width, f.height))
            for f in c.decode(video=0)
        ]
