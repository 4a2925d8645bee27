"""One rendition's encoder and muxer, running in its own thread behind a bounded queue.

The transcoder feeds scaled yuv420p frames (and the input's audio packets) in decode order; the
worker encodes and muxes them into an in-memory container. Encoders release the GIL, so the
renditions of a ladder encode concurrently.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from lpengine.media.profile import GOP_INTRA_ONLY, H264Profile, VideoCodec, VideoProfile

QUEUE_FRAMES = 8  # frames waiting per rendition: bounds memory while decode runs ahead
# The software encoder of each codec; `codecs.probe` finds which (hardware ones first) work here.
SOFTWARE_ENCODERS = {
    VideoCodec.H264: "libx264",
    VideoCodec.HEVC: "libx265",
    VideoCodec.VP8: "libvpx",
    VideoCodec.VP9: "libvpx-vp9",
    VideoCodec.AV1: "libsvtav1",
}
# Per encoder family: options for live segments (speed over the last percent of quality).
_SPEED: dict[str, dict[str, str]] = {
    "libx264": {"preset": "veryfast"},
    "libx265": {"preset": "veryfast", "x265-params": "log-level=none"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
    "libsvtav1": {"preset": "10"},
    "nvenc": {"preset": "p4", "tune": "ll"},
}
WEBM_AUDIO_RATE, WEBM_AUDIO_BITRATE = 48_000, 96_000  # Opus, for audio WebM cannot carry
os.environ.setdefault("SVT_LOG", "1")  # NOTE: SVT-AV1 prints its banner at info level otherwise
_X264_PROFILES = {
    H264Profile.BASELINE: "baseline",
    H264Profile.MAIN: "main",
    H264Profile.HIGH: "high",
    H264Profile.CONSTRAINED_HIGH: "high",
}
_STOP = object()


class EncodeError(Exception):
    """The encoder or muxer of one rendition failed; `reason` is LPMS's wording."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class EncodedRendition:
    profile: VideoProfile
    data: bytes  # the muxed container (MPEG-TS or MP4)
    frames: int  # encoded video frames
    pixels: int  # width * height * frames: what the gateway pays for


def _video_stream(
    out: av.container.OutputContainer,
    p: VideoProfile,
    rate: Fraction,
    time_base: Fraction,
    threads: int,
    encoder: str,
) -> Any:
    if p.color_depth != 8 or p.chroma != 0:
        raise EncodeError("Encoder not found", "only 8-bit 4:2:0 renditions are built yet")
    try:
        stream = out.add_stream(encoder, rate=rate)
    except (ValueError, av.error.FFmpegError) as err:
        raise EncodeError("Encoder not found", f"{encoder}: {err}") from None
    ctx = stream.codec_context
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = p.width, p.height, "yuv420p"
    ctx.time_base = time_base
    # NOTE: frame threads (x264's efficient mode; PyAV defaults encoders to slice threads), the
    # cores split among the ladder's encoders, which run at the same time.
    ctx.thread_type, ctx.thread_count = "FRAME", threads
    nvenc = encoder.endswith("_nvenc")
    options = dict(_SPEED["nvenc" if nvenc else encoder])
    if p.bitrate:
        ctx.bit_rate = p.bitrate
    elif p.quality:
        options["cq" if nvenc else "crf"] = str(p.quality)
    if p.gop_ms == GOP_INTRA_ONLY:
        ctx.gop_size = 1
    elif p.gop_ms > 0:
        ctx.gop_size = max(1, round(Fraction(p.gop_ms, 1000) * rate))
        if encoder in ("libx264", "libx265"):
            options["sc_threshold"] = "0"  # key frames exactly every GOP, as lpms forces them
        if nvenc:
            options["forced-idr"] = "1"
    if p.profile in _X264_PROFILES and p.codec == VideoCodec.H264:
        options["profile"] = _X264_PROFILES[p.profile]
    if p.profile == H264Profile.CONSTRAINED_HIGH or p.gop_ms == GOP_INTRA_ONLY:
        ctx.max_b_frames = 0
    ctx.options = options
    return stream


class RenditionEncoder:
    """Encodes and muxes one rendition in a worker thread; `put_*` block while it is behind."""

    def __init__(
        self,
        profile: VideoProfile,
        rate: Fraction,
        time_base: Fraction,
        audio: Any | None,
        threads: int = 1,
        encoder: str | None = None,
    ) -> None:
        """rate: the output frame rate (rate control, GOP); time_base: the unit of `pts`;
        threads: the encoder's own threads; encoder: FFmpeg's name (default: the software one
        of the profile's codec)."""
        self.profile = profile
        self.encoder = encoder or SOFTWARE_ENCODERS[profile.codec]
        self._buffer = io.BytesIO()
        self._out = av.open(self._buffer, "w", format=profile.container)
        try:
            self._video = _video_stream(self._out, profile, rate, time_base, threads, self.encoder)
            self._audio, self.wants_audio_frames = self._audio_stream(audio)
        except BaseException:
            self._out.close()
            raise
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)
        self._error: EncodeError | None = None
        self.frames = 0
        self._thread = threading.Thread(target=self._run, name=f"encode-{profile.name}")
        self._thread.start()

    def _audio_stream(self, audio: Any | None) -> tuple[Any | None, bool]:
        """The input's audio, copied; WebM carries only Opus or Vorbis, so other audio is
        re-encoded to Opus from decoded frames there (returns True: send frames)."""
        if audio is None:
            return None, False
        if self.profile.container != "webm" or audio.codec_context.name in ("opus", "vorbis"):
            return self._out.add_stream_from_template(audio), False
        stream = self._out.add_stream("libopus", rate=WEBM_AUDIO_RATE)
        stream.codec_context.layout = audio.codec_context.layout
        stream.bit_rate = WEBM_AUDIO_BITRATE
        self._resampler = av.AudioResampler("s16", audio.codec_context.layout, WEBM_AUDIO_RATE)
        return stream, True

    def put_frame(self, frame: NDArray[np.uint8], pts: int) -> None:
        """frame: [H * 3 / 2, W] uint8 yuv420p at the profile's size, host memory."""
        self._queue.put((frame, pts))

    def put_audio(self, item: av.Packet[Any] | av.AudioFrame) -> None:
        """A packet to copy, or (when `wants_audio_frames`) a decoded frame to encode."""
        self._queue.put(item)

    def finish(self) -> EncodedRendition:
        """Flushes the encoder, closes the container; raises EncodeError if anything failed."""
        self._queue.put(_STOP)
        self._thread.join()
        if self._error is not None:
            raise self._error
        p = self.profile
        return EncodedRendition(
            p, self._buffer.getvalue(), self.frames, p.width * p.height * self.frames
        )

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not _STOP:
                self._mux_item(item)
            self._mux(self._video.encode(None))
            if self.wants_audio_frames and self._audio is not None:
                for frame in self._resampler.resample(None):
                    self._out.mux(self._audio.encode(frame))
                self._out.mux(self._audio.encode(None))
            self._out.close()
        except Exception as err:
            self._error = EncodeError("Invalid argument", f"{self.profile.name}: {err}")
            while item is not _STOP:  # NOTE: keep draining, or the transcoder blocks on put()
                item = self._queue.get()
            with contextlib.suppress(Exception):
                self._out.close()

    def _mux_item(self, item: Any) -> None:
        if isinstance(item, av.Packet):
            if self._audio is not None:
                item.stream = self._audio
                self._out.mux(item)
            return
        if isinstance(item, av.AudioFrame):
            if self._audio is not None:
                for resampled in self._resampler.resample(item):
                    self._out.mux(self._audio.encode(resampled))
            return
        array, pts = item
        frame = av.VideoFrame.from_ndarray(array, format="yuv420p")
        frame.pts = pts
        self._mux(self._video.encode(frame))

    def _mux(self, packets: list[av.Packet[Any]]) -> None:
        self.frames += len(packets)
        self._out.mux(packets)
