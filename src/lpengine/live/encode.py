"""The output side of a live stream: yuv420p frames in, one continuous MPEG-TS out.

H.264 with libx264 (`superfast`, `zerolatency`, no B-frames), an IDR every 2 s by PTS, time
base 1/90000, muxed into one MPEG-TS container whose bytes are flushed after every packet. The
muxer writes PAT/PMT before every key frame, so cutting the byte stream right before a key
frame's packet gives segments that each start with PAT/PMT and an IDR, with stable PIDs: the
segments concatenate into one decodable stream (protocol.md §12.10). Audio packets of the input
are muxed unchanged.

CPU per frame: x264 reads the caller's yuv420p array in place (no copy into a new frame), and a
frame up to 640x480 is encoded by one x264 thread as one slice (`x264_options`); larger frames
keep x264's sliced threads, a slice per core.

On a node whose codec probe proved NVENC (`media.codecs`), streams encode with `h264_nvenc`
in its low-latency settings (`NVENC_OPTIONS`: no B-frames, no reordering delay, IDRs forced by
PTS as x264's); `open_encoder` falls back to x264 when NVENC will not open for a stream (a
consumer GPU's session limit, a driver gone), so a stream never fails for want of NVENC.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any, Protocol, cast

import av
import numpy as np
from av.video.frame import PictureType
from av.video.stream import VideoStream
from numpy.typing import NDArray

IDR_INTERVAL_S = 2.0
TIME_BASE = Fraction(1, 90000)
X264_OPTIONS = {
    "preset": "superfast",
    "tune": "zerolatency",
    "forced-idr": "1",
    "sc_threshold": "0",  # key frames only where forced: every IDR_INTERVAL_S
}
# NOTE: up to this size one x264 thread (one slice) encodes a frame: zerolatency's sliced
# threads cost CPU to split and join every frame and compress each slice a little worse, and a
# frame this small takes one thread a few ms, far inside a 30 fps frame interval. Larger frames
# get x264's own choice (a slice per core) so that their wall time per frame stays short.
SINGLE_THREAD_MAX_PIXELS = 640 * 480


NVENC_OPTIONS = {
    "preset": "p4",
    "tune": "ll",  # low latency
    "zerolatency": "1",  # no reordering delay
    "delay": "0",  # no output delay
    "forced-idr": "1",
    "rc": "vbr",
    "cq": "23",  # NOTE: quality-targeted like x264's default CRF 23, no bitrate cap
}
SOFTWARE = "libx264"
log = logging.getLogger(__name__)


def x264_options(width: int, height: int) -> dict[str, str]:
    """The encoder's options for a stream of `width` x `height`."""
    threads = "1" if width * height <= SINGLE_THREAD_MAX_PIXELS else "auto"
    return {**X264_OPTIONS, "threads": threads}


def encoder_options(encoder: str, width: int, height: int) -> dict[str, str]:
    if encoder == SOFTWARE:
        return x264_options(width, height)
    if encoder == "h264_nvenc":
        return dict(NVENC_OPTIONS)
    raise ValueError(f"encoder: expected {SOFTWARE} or h264_nvenc, got {encoder!r}")


def resolution(yuv420p_shape: tuple[int, ...]) -> str:
    """'WxH' of a [H * 3 / 2, W] yuv420p frame's shape."""
    return f"{yuv420p_shape[1]}x{yuv420p_shape[0] * 2 // 3}"


class Sink(Protocol):
    def write(self, data: bytes) -> int: ...

    def cut(self) -> None:
        """The bytes that follow start a new segment."""
        ...


class LiveEncoder:
    """Encodes and muxes in the calling thread (the session's worker)."""

    def __init__(
        self,
        sink: Sink,
        width: int,
        height: int,
        rate: int = 30,
        audio: Any | None = None,
        encoder: str = SOFTWARE,
    ) -> None:
        """Opens `encoder` at once: an encoder that cannot open raises here (av.FFmpegError),
        before anything is written to `sink`."""
        self.sink = sink
        self.encoder = encoder
        self.frame_shape = (height * 3 // 2, width)  # the yuv420p frames it takes
        self._out = av.open(sink, "w", format="mpegts", container_options={"flush_packets": "1"})
        try:
            stream = cast(VideoStream, self._out.add_stream(encoder, rate=rate))
            ctx = stream.codec_context
            ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
            ctx.time_base = TIME_BASE
            ctx.max_b_frames = 0
            ctx.gop_size = 1_000_000  # NOTE: IDRs are forced by PTS, never by count
            ctx.options = encoder_options(encoder, width, height)
            if encoder != SOFTWARE:
                ctx.bit_rate = 0  # NOTE: NVENC's VBR with `cq` and no bitrate: constant quality
            ctx.open()
        except BaseException:
            self._out.close()  # NOTE: nothing was muxed: no byte reaches the sink
            raise
        self._video = stream
        self._audio = self._out.add_stream_from_template(audio) if audio is not None else None
        self._last_pts: int | None = None
        self._last_idr_s: float | None = None
        self.frames = 0
        self.segments = 0

    def encode(self, frame: NDArray[np.uint8], time_s: float) -> bool:
        """frame: [H * 3 / 2, W] uint8 yuv420p; returns False for a frame dropped because its
        time does not follow the last one's."""
        self.check_size(frame)
        pts = round(time_s / TIME_BASE)
        if self._last_pts is not None and pts <= self._last_pts:
            return False
        self._last_pts = pts
        # NOTE: wraps `frame` without a copy: x264 copies the picture into its own frame
        # before encode() returns, so the caller may reuse the array right after.
        vf = av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(frame), format="yuv420p")
        vf.pts, vf.time_base = pts, TIME_BASE
        if self._last_idr_s is None or time_s - self._last_idr_s >= IDR_INTERVAL_S:
            vf.pict_type = PictureType.I
            self._last_idr_s = time_s
        for packet in self._video.encode(vf):
            self._mux(packet)
        self.frames += 1
        return True

    def check_size(self, frame: NDArray[np.uint8]) -> None:
        """ValueError unless `frame` has the stream's size (ai-runner's message)."""
        if frame.shape != self.frame_shape:
            raise ValueError(
                f"Cannot change output resolution mid-stream ({resolution(self.frame_shape)} -> "
                f"{resolution(frame.shape)})"
            )

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


def open_encoder(
    sink: Sink, width: int, height: int, audio: Any | None = None, preferred: str = SOFTWARE
) -> LiveEncoder:
    """A stream's encoder: `preferred` (the node's proven H.264 encoder), else x264."""
    if preferred != SOFTWARE:
        try:
            return LiveEncoder(sink, width, height, audio=audio, encoder=preferred)
        except (av.FFmpegError, ValueError) as err:
            log.warning("%s does not open for a %dx%d stream (%s): x264 encodes it instead",
                        preferred, width, height, err)  # fmt: skip
    return LiveEncoder(sink, width, height, audio=audio)
