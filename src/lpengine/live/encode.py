"""The output side of a live stream: yuv420p frames in, one continuous MPEG-TS out.

H.264 with libx264 (`superfast`, `zerolatency`, no B-frames), an IDR every 2 s by PTS, time
base 1/90000, muxed into one MPEG-TS container whose bytes are flushed after every packet. The
muxer writes PAT/PMT before every key frame, so cutting the byte stream right before a key
frame's packet gives segments that each start with PAT/PMT and an IDR, with stable PIDs: the
segments concatenate into one decodable stream (protocol.md §12.10). Audio packets of the input
are muxed unchanged.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Protocol

import av
import numpy as np
from av.video.frame import PictureType
from numpy.typing import NDArray

IDR_INTERVAL_S = 2.0
TIME_BASE = Fraction(1, 90000)
X264_OPTIONS = {
    "preset": "superfast",
    "tune": "zerolatency",
    "forced-idr": "1",
    "sc_threshold": "0",  # key frames only where forced: every IDR_INTERVAL_S
}


class Sink(Protocol):
    def write(self, data: bytes) -> int: ...

    def cut(self) -> None:
        """The bytes that follow start a new segment."""
        ...


class LiveEncoder:
    """Encodes and muxes in the calling thread (the session's worker)."""

    def __init__(
        self, sink: Sink, width: int, height: int, rate: int = 30, audio: Any | None = None
    ) -> None:
        self.sink = sink
        self._out = av.open(sink, "w", format="mpegts", container_options={"flush_packets": "1"})
        stream = self._out.add_stream("libx264", rate=rate)
        ctx = stream.codec_context
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = TIME_BASE
        ctx.max_b_frames = 0
        ctx.gop_size = 1_000_000  # NOTE: IDRs are forced by PTS, never by count
        ctx.options = X264_OPTIONS
        self._video = stream
        self._audio = self._out.add_stream_from_template(audio) if audio is not None else None
        self._last_pts: int | None = None
        self._last_idr_s: float | None = None
        self.frames = 0
        self.segments = 0

    def encode(self, frame: NDArray[np.uint8], time_s: float) -> bool:
        """frame: [H * 3 / 2, W] uint8 yuv420p; returns False for a frame dropped because its
        time does not follow the last one's."""
        pts = round(time_s / TIME_BASE)
        if self._last_pts is not None and pts <= self._last_pts:
            return False
        self._last_pts = pts
        vf = av.VideoFrame.from_ndarray(frame, format="yuv420p")
        vf.pts, vf.time_base = pts, TIME_BASE
        if self._last_idr_s is None or time_s - self._last_idr_s >= IDR_INTERVAL_S:
            vf.pict_type = PictureType.I
            self._last_idr_s = time_s
        for packet in self._video.encode(vf):
            self._mux(packet)
        self.frames += 1
        return True

    def mux_audio(self, packet: Any) -> None:
        """An input audio packet, unchanged (dropped before the first video segment starts)."""
        if self._audio is None or self.segments == 0:
            return
        packet.stream = self._audio
        self._out.mux(packet)

    def _mux(self, packet: Any) -> None:
        if packet.is_keyframe:
            self.sink.cut()
            self.segments += 1
        if self.segments:
            self._out.mux(packet)

    def close(self) -> None:
        try:
            for packet in self._video.encode(None):
                self._mux(packet)
        finally:
            self._out.close()
