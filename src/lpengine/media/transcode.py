"""Segment transcoder: demux and decode once, scale each frame to the whole ladder in one native
`ops.resize` call, encode the renditions concurrently (one encoder thread each), mux in memory.

Blocking and CPU-bound: call it from a worker thread, never from an event loop. Nothing is
written to disk. Failures raise TranscodeError whose str() is LPMS's wording, which gateways
classify (protocol.md §10); `detail` says what was wrong.

    result = transcode_segment(segment, [PRESETS["P720p30fps16x9"], PRESETS["P360p30fps16x9"]])
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import av.error

from lpengine import ops
from lpengine.media.encode import EncodedRendition, EncodeError, RenditionEncoder
from lpengine.media.profile import MAX_SIDE, VideoProfile, check_profiles

MAX_SEGMENT_BYTES = 300_000_000  # protocol.md §9
INPUT_FORMATS = {"mpegts", "mov,mp4,m4a,3gp,3g2,mj2"}
INPUT_CODECS = {"h264", "hevc", "vp8", "vp9"}
DEFAULT_RATE = Fraction(30)  # when the input states no frame rate


class TranscodeError(Exception):
    """A segment that cannot be transcoded; str() is LPMS's text, `detail` the reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail

    def describe(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass(frozen=True)
class TranscodeResult:
    renditions: tuple[EncodedRendition, ...]  # in the order of the profiles
    decoded_frames: int
    decoded_pixels: int  # sum of width * height over decoded frames

    @property
    def encoded_pixels(self) -> int:
        return sum(r.pixels for r in self.renditions)


class _Clock:
    """The frames of an fps-changed rendition: output slot k, at origin + k / rate (origin = the
    first input frame's time), shows the input frame on screen at that moment. Slots are known
    once the next input frame (or the end) arrives, so 2 s in is 2 s out at any rate."""

    def __init__(self, rate: Fraction, time_base: Fraction) -> None:
        self.rate, self.time_base = rate, time_base
        self.origin: Fraction | None = None
        self.next = 0

    def until(self, start: Fraction, end: Fraction) -> list[int]:
        """Timestamps (in `time_base`) of the slots the frame shown from `start` to `end` fills."""
        if self.origin is None:
            self.origin = start
        last = math.ceil((end - self.origin) * self.rate) - 1  # slots strictly before `end`
        filled = range(self.next, last + 1)
        self.next = max(self.next, last + 1)
        return [round((self.origin + k / self.rate) / self.time_base) for k in filled]


def transcode_segment(segment: bytes, profiles: Sequence[VideoProfile]) -> TranscodeResult:
    """segment: a whole MPEG-TS or MP4 file in memory -> one rendition per profile, same order.

    Raises ValueError naming the field for bad profiles, TranscodeError for a bad segment."""
    ladder = check_profiles(profiles)
    if not segment:
        raise TranscodeError("Invalid argument", "the segment is empty")
    if len(segment) > MAX_SEGMENT_BYTES:
        raise TranscodeError("Invalid argument", f"the segment exceeds {MAX_SEGMENT_BYTES} bytes")
    try:
        container = av.open(io.BytesIO(segment), "r")
    except (av.error.FFmpegError, EOFError) as err:
        raise TranscodeError("Invalid argument", f"cannot read the segment: {err}") from None
    with container:
        if container.format.name not in INPUT_FORMATS:
            raise TranscodeError("Invalid argument", f"{container.format.name} is not MPEG-TS/MP4")
        if not container.streams.video:
            raise TranscodeError("No keyframes in input", "the segment has no video stream")
        video = container.streams.video[0]
        codec = video.codec_context.name
        if codec not in INPUT_CODECS:
            raise TranscodeError("Unsupported input codec", f"cannot transcode {codec} video")
        w, h = video.codec_context.width, video.codec_context.height
        if w > MAX_SIDE or h > MAX_SIDE:
            raise TranscodeError("Invalid argument", f"{w}x{h} input exceeds {MAX_SIDE}")
        video.thread_type = "AUTO"  # frame + slice threads in the decoder
        # NOTE: an audio stream the demuxer saw no packet of has no parameters; muxers refuse it.
        audio = next((a for a in container.streams.audio if a.codec_context.sample_rate), None)
        return _Ladder(ladder, video, audio).run(container)


class _Ladder:
    def __init__(self, profiles: tuple[VideoProfile, ...], video: Any, audio: Any) -> None:
        self.profiles, self.video, self.audio = profiles, video, audio
        self.in_rate = Fraction(video.average_rate or video.guessed_rate or DEFAULT_RATE)
        self.time_base = Fraction(video.time_base)
        self.clocks = [
            _Clock(Fraction(p.fps, p.fps_den or 1), self.time_base) if p.fps else None
            for p in profiles
        ]
        self.decoded_frames = self.decoded_pixels = 0
        self.held: tuple[Any, Fraction] | None = None  # the decoded frame on screen, its time

    def run(self, container: Any) -> TranscodeResult:
        encoders: list[RenditionEncoder] = []
        try:
            for p, clock in zip(self.profiles, self.clocks, strict=True):
                rate = clock.rate if clock else self.in_rate
                encoders.append(RenditionEncoder(p, rate, self.time_base, self.audio))
            for frame in self._frames(container, encoders):
                self._next(frame, encoders)
            if self.held is not None:  # NOTE: the last frame shows for one input frame interval
                self._show(*self.held, self.held[1] + 1 / self.in_rate, encoders)
        except EncodeError as err:  # a rendition no encoder here can make
            raise TranscodeError(err.reason, err.detail) from None
        finally:
            renditions, errors = [], []
            for enc in encoders:  # NOTE: always joined, so no thread outlives the call
                try:
                    renditions.append(enc.finish())
                except EncodeError as err:
                    errors.append(err)
        if self.decoded_frames == 0:  # encoders fed nothing fail too: this is the cause
            raise TranscodeError("No keyframes in input", "no video frame could be decoded")
        if errors:
            raise TranscodeError(errors[0].reason, errors[0].detail)
        return TranscodeResult(tuple(renditions), self.decoded_frames, self.decoded_pixels)

    def _frames(self, container: Any, encoders: list[RenditionEncoder]) -> Iterator[Any]:
        """Decoded video frames; audio packets go straight to every encoder. A corrupt packet
        is skipped and a demux error ends the input, as the ffmpeg CLI does."""
        streams = [s for s in (self.video, self.audio) if s is not None]
        try:
            for packet in container.demux(streams):
                if packet.stream is self.video:
                    try:
                        yield from packet.decode()
                    except av.error.InvalidDataError:
                        continue
                elif packet.dts is not None and packet.size:
                    for enc in encoders:
                        enc.put_audio(_copy(packet))
        except av.error.FFmpegError:
            yield from self.video.codec_context.decode(None)

    def _next(self, frame: Any, encoders: list[RenditionEncoder]) -> None:
        """Takes a decoded frame; encodes the one it replaces on screen."""
        self.decoded_frames += 1
        self.decoded_pixels += frame.width * frame.height
        if frame.pts is not None:
            t = frame.pts * self.time_base
        else:  # NOTE: a stream without timestamps plays at its stated rate
            t = self.held[1] + 1 / self.in_rate if self.held is not None else Fraction(0)
        if self.held is not None:
            self._show(*self.held, t, encoders)
        self.held = frame, t

    def _show(
        self, frame: Any, t: Fraction, end: Fraction, encoders: list[RenditionEncoder]
    ) -> None:
        """Scales `frame` (on screen from t to end) once for every rendition that shows it."""
        passthrough = [round(t / self.time_base)]
        wanted = [
            (i, clock.until(t, end) if clock else passthrough)
            for i, clock in enumerate(self.clocks)
        ]
        wanted = [(i, stamps) for i, stamps in wanted if stamps]
        if not wanted:
            return
        if frame.format.name != "yuv420p" or frame.width % 2 or frame.height % 2:
            frame = frame.reformat(frame.width & ~1, frame.height & ~1, "yuv420p")
        sizes = [self.profiles[i].size for i, _ in wanted]
        for (i, stamps), scaled in zip(wanted, ops.resize(frame.to_ndarray(), sizes), strict=True):
            for pts in stamps:
                encoders[i].put_frame(scaled, pts)


def _copy(packet: av.Packet[Any]) -> av.Packet[Any]:
    """A packet for one more output (muxing rebinds a packet to the output's stream)."""
    out = av.Packet(bytes(packet))
    out.pts, out.dts, out.time_base = packet.pts, packet.dts, packet.time_base
    return out
