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
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import av.error

from lpengine import ops
from lpengine.media.encode import EncodedRendition, EncodeError, RenditionEncoder
from lpengine.media.profile import MAX_SIDE, VideoCodec, VideoProfile, check_profiles

MAX_SEGMENT_BYTES = 300_000_000  # protocol.md §9
MAX_SEGMENT_S = 300  # a segment's media may last up to 5 min (protocol.md §9)
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
    duration_s: float = 0.0  # media time the renditions cover (the clip, if any)

    @property
    def encoded_pixels(self) -> int:
        return sum(r.pixels for r in self.renditions)


class _Clock:
    """The frames of an fps-changed rendition: output slot k, at origin + k / rate (origin = the
    first input frame's time), shows the input frame on screen at that moment. Slots are known
    once the next input frame (or the end) arrives, so 2 s in is 2 s out at any rate. A session
    keeps its clocks across segments, so slots continue where the last segment's ended."""

    def __init__(self, rate: Fraction) -> None:
        self.rate = rate
        self.origin: Fraction | None = None
        self.next = 0

    def until(self, start: Fraction, end: Fraction) -> list[Fraction]:
        """Times (s) of the slots the frame shown from `start` to `end` fills; slots before
        `start` that no frame filled (a gap in the input) stay empty."""
        if self.origin is None:
            self.origin = start
        first = math.ceil((start - self.origin) * self.rate)
        last = math.ceil((end - self.origin) * self.rate) - 1  # slots strictly before `end`
        filled = range(max(self.next, first), last + 1)
        self.next = max(self.next, last + 1)
        return [self.origin + k / self.rate for k in filled]


@dataclass(frozen=True)
class Clip:
    """SegParameters: keep the frames from `from_ms` up to `to_ms` (0 = the end), in ms from the
    segment's first frame."""

    from_ms: int = 0
    to_ms: int = 0

    def __post_init__(self) -> None:
        if self.from_ms < 0 or self.to_ms < 0:
            raise ValueError(f"clip: expected times >= 0 ms, got {self.from_ms}-{self.to_ms}")
        if self.to_ms and self.to_ms <= self.from_ms:
            raise ValueError(f"clip: 'to' {self.to_ms} ms must be after 'from' {self.from_ms} ms")

    def keeps(self, t: Fraction) -> bool:
        """Whether a frame `t` seconds after the segment's start is inside the clip."""
        ms = t * 1000
        return ms >= self.from_ms and (not self.to_ms or ms < self.to_ms)


MAX_FORWARD_GAP_S = Fraction(10)  # a larger jump ahead is a new timeline, not lost segments


@dataclass
class Timeline:
    """A stream's time across its segments (kept by a transcoding session).

    Output times are the input's plus `offset`. When a segment starts before the previous one
    ended (the source restarted its clock) or far after it, `offset` moves so that the output
    continues from where it was; a gap of a few lost segments is kept, as it is real.
    """

    offset: Fraction = Fraction(0)
    end: Fraction | None = None  # where the last segment's output ended, in output seconds
    clocks: dict[tuple[str, Fraction], _Clock] = field(default_factory=dict)

    def place(self, first: Fraction, frame_s: Fraction) -> None:
        """Sets the offset for a segment whose first frame is at input time `first`."""
        if self.end is None:
            return
        t = first + self.offset
        if t < self.end - frame_s / 2 or t > self.end + MAX_FORWARD_GAP_S:
            self.offset = self.end - first

    def clock(self, profile: VideoProfile) -> _Clock:
        rate = Fraction(profile.fps, profile.fps_den or 1)
        return self.clocks.setdefault((profile.name, rate), _Clock(rate))


def transcode_segment(
    segment: bytes,
    profiles: Sequence[VideoProfile],
    *,
    clip: Clip | None = None,
    timeline: Timeline | None = None,
    encoders: Mapping[VideoCodec, str] | None = None,
) -> TranscodeResult:
    """segment: a whole MPEG-TS or MP4 file in memory -> one rendition per profile, same order.

    clip: only part of the segment; timeline: a session's, for continuous timestamps across its
    segments (a fresh one otherwise); encoders: FFmpeg's encoder per codec (`codecs.probe`
    finds the ones that work here; default: the software ones). Raises ValueError naming the
    field for bad profiles, TranscodeError for a bad segment."""
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
        ladder_run = _Ladder(ladder, video, audio, clip or Clip(), timeline or Timeline())
        return ladder_run.run(container, encoders or {})


class _Ladder:
    def __init__(
        self,
        profiles: tuple[VideoProfile, ...],
        video: Any,
        audio: Any,
        clip: Clip,
        timeline: Timeline,
    ) -> None:
        self.profiles, self.video, self.audio = profiles, video, audio
        self.clip, self.timeline = clip, timeline
        self.in_rate = Fraction(video.average_rate or video.guessed_rate or DEFAULT_RATE)
        self.time_base = Fraction(video.time_base)
        self.clocks = [timeline.clock(p) if p.fps else None for p in profiles]
        self.decoded_frames = self.decoded_pixels = 0
        self.start: Fraction | None = None  # the segment's first frame, input seconds
        self.held: tuple[Any, Fraction] | None = None  # the decoded frame on screen, its time
        self.early_audio: list[av.Packet[Any]] = []
        self.first: Fraction | None = None  # the first frame kept, output seconds

    def run(self, container: Any, encoders_by_codec: Mapping[VideoCodec, str]) -> TranscodeResult:
        encoders: list[RenditionEncoder] = []
        threads = encoder_threads(self.profiles)
        try:
            for p, clock, n in zip(self.profiles, self.clocks, threads, strict=True):
                rate = clock.rate if clock else self.in_rate
                encoder = encoders_by_codec.get(p.codec)
                encoders.append(RenditionEncoder(p, rate, self.time_base, self.audio, n, encoder))
            for frame in self._frames(container, encoders):
                self._next(frame, encoders)
            if self.held is not None:  # NOTE: the last frame shows for one input frame interval
                end = self.held[1] + 1 / self.in_rate
                self._show(*self.held, end, encoders)
                self.timeline.end = end
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
        if self.held is None:
            raise TranscodeError("Invalid argument", f"no frame inside the clip {self.clip}")
        if errors:
            raise TranscodeError(errors[0].reason, errors[0].detail)
        stop, first = self.timeline.end, self.first
        duration = float(stop - first) if stop is not None and first is not None else 0.0
        return TranscodeResult(
            tuple(renditions), self.decoded_frames, self.decoded_pixels, duration
        )

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
                    self._audio(packet, encoders)
        except av.error.FFmpegError:
            yield from self.video.codec_context.decode(None)

    def _audio(self, packet: av.Packet[Any], encoders: list[RenditionEncoder]) -> None:
        """Passes an audio packet through, on the output timeline, if it is inside the clip;
        packets before the first video frame wait for it (it places the segment in time)."""
        if self.start is None:
            self.early_audio.append(packet)
            return
        for early in self.early_audio:
            self._pass_audio(early, encoders)
        self.early_audio.clear()
        self._pass_audio(packet, encoders)

    def _pass_audio(self, packet: av.Packet[Any], encoders: list[RenditionEncoder]) -> None:
        stamp = packet.pts if packet.pts is not None else packet.dts
        assert self.start is not None and packet.time_base is not None and stamp is not None
        tb = Fraction(packet.time_base)
        t = stamp * tb
        if not self.clip.keeps(max(Fraction(0), t - self.start)):
            return
        shift = round(self.timeline.offset / tb)
        frames: list[av.AudioFrame] | None = None
        for enc in encoders:
            out = _copy(packet)
            out.pts = None if packet.pts is None else packet.pts + shift
            out.dts = None if packet.dts is None else packet.dts + shift
            if not enc.wants_audio_frames:
                enc.put_audio(out)
                continue
            if frames is None:  # NOTE: decoded once, for every rendition that re-encodes
                try:
                    frames = list(self.audio.codec_context.decode(out))
                except av.error.InvalidDataError:
                    frames = []
            for frame in frames:
                enc.put_audio(frame)

    def _next(self, frame: Any, encoders: list[RenditionEncoder]) -> None:
        """Takes a decoded frame; encodes the one it replaces on screen."""
        self.decoded_frames += 1
        self.decoded_pixels += frame.width * frame.height
        if frame.pts is not None:
            t = frame.pts * self.time_base
        elif self.held is not None:  # NOTE: a stream without timestamps plays at its stated rate
            t = self.held[1] - self.timeline.offset + 1 / self.in_rate
        else:
            t = Fraction(0)
        if self.start is None:
            self.start = t
            self.timeline.place(t, 1 / self.in_rate)
        elif t - self.start > MAX_SEGMENT_S:
            raise TranscodeError(
                "Invalid argument", f"the segment is longer than {MAX_SEGMENT_S} s"
            )
        if not self.clip.keeps(t - self.start):
            return
        t += self.timeline.offset
        if self.first is None:
            self.first = t
        if self.held is not None:
            self._show(*self.held, t, encoders)
        self.held = frame, t

    def _show(
        self, frame: Any, t: Fraction, end: Fraction, encoders: list[RenditionEncoder]
    ) -> None:
        """Scales `frame` (on screen from t to end) once for every rendition that shows it."""
        wanted = [
            (i, [round(s / self.time_base) for s in (clock.until(t, end) if clock else [t])])
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


def encoder_threads(profiles: Sequence[VideoProfile]) -> list[int]:
    """Each encoder's threads, by its share of the pixels: the ladder's encoders run at the same
    time and the segment waits for the biggest rendition.

    NOTE: 3 threads per core in all: x264's frame threads wait on each other and on lookahead,
    so fewer leave cores idle (measured on 2 cores: 1.5 per core 2.33 s, 3 per core 2.12 s for
    the bench's 1080p ladder)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rates = [p.width * p.height * (p.fps / (p.fps_den or 1) if p.fps else 30) for p in profiles]
    total = sum(rates) or 1
    return [max(1, round(3 * (cores or 1) * r / total)) for r in rates]


def _copy(packet: av.Packet[Any]) -> av.Packet[Any]:
    """A packet for one more output (muxing rebinds a packet to the output's stream)."""
    out = av.Packet(bytes(packet))
    out.pts, out.dts, out.time_base = packet.pts, packet.dts, packet.time_base
    return out
