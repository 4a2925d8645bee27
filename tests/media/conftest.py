"""Generated media for the transcoding tests: a moving test pattern and a tone."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 30, 2
SAMPLE_RATE = 48000


def make_segment(
    fmt: str = "mpegts", *, video: bool = True, audio: bool = True, codec: str = "libx264"
) -> bytes:
    """A WIDTH x HEIGHT, FPS fps, SECONDS s clip: a gradient that scrolls, a 440 Hz tone."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=FPS) if video else None
        if vs is not None:
            vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            vs.codec_context.gop_size = FPS
            vs.codec_context.options = {"preset": "ultrafast"}
        aus = out.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio else None
        y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
        for i in range(FPS * SECONDS if vs is not None else 0):
            luma = ((x + y + 4 * i) % 256).astype(np.uint8)
            chroma = np.full((HEIGHT // 2, WIDTH), 96 + i, np.uint8)
            frame = av.VideoFrame.from_ndarray(np.vstack([luma, chroma]), format="yuv420p")
            frame.pts = i
            out.mux(vs.encode(frame))
        if vs is not None:
            out.mux(vs.encode(None))
        if aus is not None:
            step = 1024
            for start in range(0, SAMPLE_RATE * SECONDS, step):
                t = (np.arange(start, start + step) / SAMPLE_RATE)[None, :]
                pcm = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                frame = av.AudioFrame.from_ndarray(pcm, format="flt", layout="mono")
                frame.sample_rate, frame.pts = SAMPLE_RATE, start
                out.mux(aus.encode(frame))
            out.mux(aus.encode(None))
    return buf.getvalue()


@pytest.fixture(scope="session")
def segment() -> bytes:
    """2 s of H.264 + AAC in MPEG-TS, as a gateway sends it."""
    return make_segment()
