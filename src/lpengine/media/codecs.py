"""Which transcoding capabilities this machine really has, found by using PyAV.

Every codec capability is proved, not assumed: the probe opens an encoder, encodes a small
frame, decodes the result with the matching decoder and checks what came out (pixel format,
H.264 profile, key frames, container round trip). Hardware encoders (NVENC) are tried first when
a GPU is present; on a machine without one they simply fail to open.

    offer = codecs.transcoding_offer(codecs.probe(hardware.detect()))
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from typing import Any, TypeVar, cast

import av
import av.filter

from lpengine.capabilities import Capability
from lpengine.capability_registry import Offer
from lpengine.hardware import Hardware
from lpengine.media.profile import VideoCodec

log = logging.getLogger(__name__)

T = TypeVar("T")
PROBE_TIMEOUT_S = 60.0  # the whole probe: about 0.1 s idle, seconds on a loaded 2-core machine
SIZE = 64  # probe frames are SIZE x SIZE; every software codec accepts it
GPU_SIZE = 256  # NVENC refuses very small frames
# Capabilities that are the engine's own software (auth tokens, serving outputs itself).
ALWAYS = {
    Capability.STORAGE_DIRECT: "outputs served by lpengine itself",
    Capability.AUTH_TOKEN: "auth tokens issued and checked by the engine",
}
# Encoder implementations per codec, preferred first (hardware ones need a GPU).
ENCODERS = {
    "h264": ("h264_nvenc", "libx264"),
    "hevc": ("hevc_nvenc", "libx265"),
    "vp8": ("libvpx",),
    "vp9": ("libvpx-vp9",),
    "av1": ("av1_nvenc", "libsvtav1"),  # NOTE: lpengine's own: go has no AV1 capability
}
CODECS = {"h264": VideoCodec.H264, "hevc": VideoCodec.HEVC, "vp8": VideoCodec.VP8,
          "vp9": VideoCodec.VP9, "av1": VideoCodec.AV1}  # fmt: skip
_QUIET = {"libx265": {"x265-params": "log-level=none"}}


@dataclass(frozen=True)
class Encoded:
    encoder: str
    packets: tuple[av.Packet[Any], ...]


def _encode(
    encoder: str,
    pix_fmt: str = "yuv420p",
    frames: int = 1,
    size: int = SIZE,
    rate: Fraction = Fraction(30),
    **options: str,
) -> Encoded:
    ctx = av.CodecContext.create(encoder, "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width = ctx.height = size
    ctx.pix_fmt = pix_fmt
    ctx.framerate = rate
    ctx.time_base = 1 / rate
    if "gop" in options:
        ctx.gop_size = int(options.pop("gop"))
    ctx.options = {**_QUIET.get(encoder, {}), **options}
    ctx.open()
    packets: list[av.Packet[Any]] = []
    for i in range(frames):
        frame = av.VideoFrame(size, size, pix_fmt)
        for plane in frame.planes:
            plane.update(bytes([(i * 37) & 0xFF]) * plane.buffer_size)
        frame.pts = i
        packets += ctx.encode(frame)
    packets += ctx.encode(None)
    if not packets:
        raise RuntimeError(f"{encoder} produced no packets")
    return Encoded(encoder, tuple(packets))


def _decode(codec: str, encoded: Encoded) -> tuple[av.VideoFrame, av.VideoCodecContext]:
    ctx = av.CodecContext.create(codec, "r")
    assert isinstance(ctx, av.VideoCodecContext)
    frames: list[av.VideoFrame] = []
    for packet in (*encoded.packets, None):
        frames += ctx.decode(packet)
    if not frames:
        raise RuntimeError(f"{codec} decoded nothing from {encoded.encoder}")
    return frames[0], ctx


def _first(codec: str, gpu: bool, **kwargs: object) -> Encoded:
    """Encodes with the first implementation of `codec` that works here."""
    errors = []
    for encoder in ENCODERS[codec]:
        if encoder.endswith("_nvenc") and not gpu:
            continue
        size = GPU_SIZE if encoder.endswith("_nvenc") else SIZE
        try:
            return _encode(encoder, size=size, **kwargs)  # type: ignore[arg-type]
        except Exception as err:  # the codec is absent, refuses the options or has no device
            errors.append(f"{encoder}: {err}")
    raise RuntimeError("; ".join(errors) or f"no {codec} encoder")


def _round_trip(codec: str, gpu: bool, pix_fmt: str = "yuv420p", **options: str) -> Encoded:
    encoded = _first(codec, gpu, pix_fmt=pix_fmt, **options)
    frame, _ = _decode(codec, encoded)
    if frame.format.name != pix_fmt:
        raise RuntimeError(f"decoded {frame.format.name}, expected {pix_fmt}")
    return encoded


def _h264_profile(gpu: bool, profile: str, decoded_as: str, **options: str) -> str:
    encoded = _first("h264", gpu, profile=profile, **options)
    _, ctx = _decode("h264", encoded)
    if ctx.profile != decoded_as:
        raise RuntimeError(f"profile {profile} decoded as {ctx.profile}")
    return f"{encoded.encoder} profile={profile}"


def _gop(gpu: bool) -> str:
    encoded = _first("h264", gpu, frames=5, gop="2", bf="0")
    keys = [i for i, p in enumerate(encoded.packets) if p.is_keyframe]
    if keys[:3] != [0, 2, 4]:
        raise RuntimeError(f"gop=2 gave key frames at {keys}")
    return f"{encoded.encoder} gop_size"


def _container(fmt: str, gpu: bool) -> str:
    encoded = _first("h264", gpu)
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream("h264", rate=30)
        stream.width = stream.height = SIZE
        for packet in encoded.packets:
            packet.stream = stream
            out.mux(packet)
    buf.seek(0)
    with av.open(buf, "r") as back:
        packets = [p for p in back.demux(video=0) if p.size]
    if len(packets) != len(encoded.packets):
        raise RuntimeError(f"{fmt}: muxed {len(encoded.packets)} packets, read {len(packets)}")
    return f"{fmt} mux + demux"


def _decoder_only(codec: str, gpu: bool) -> str:
    try:
        encoded = _first(codec, gpu)
    except RuntimeError:  # no encoder to make a sample: opening the decoder is the best proof
        av.CodecContext.create(codec, "r").open()
        return f"{codec} decoder opens"
    _decode(codec, encoded)
    return f"{codec} decodes {encoded.encoder}"


def _signature_filter(_: bool) -> str:
    if "signature" not in av.filter.filters_available:
        raise RuntimeError("FFmpeg has no 'signature' filter")
    return "signature filter"


def _checks() -> dict[Capability, Callable[[bool], str]]:
    C = Capability
    return {
        C.H264: lambda g: f"{_round_trip('h264', g).encoder} + h264 decoder",
        C.MPEGTS: lambda g: _container("mpegts", g),
        C.MP4: lambda g: _container("mp4", g),
        C.FRACTIONAL_FRAMERATES: lambda g: (
            _first("h264", g, rate=Fraction(30000, 1001)).encoder + " at 30000/1001 fps"
        ),
        C.H264_BASELINE: lambda g: _h264_profile(g, "baseline", "Constrained Baseline"),
        C.H264_MAIN: lambda g: _h264_profile(g, "main", "Main"),
        C.H264_HIGH: lambda g: _h264_profile(g, "high", "High"),
        C.H264_CONSTRAINED_HIGH: lambda g: _h264_profile(g, "high", "High", bf="0"),
        C.GOP: _gop,
        C.MPEG7_SIGNATURE: _signature_filter,
        C.HEVC_DECODE: lambda g: _decoder_only("hevc", g),
        C.HEVC_ENCODE: lambda g: _round_trip("hevc", g).encoder,
        C.VP8_DECODE: lambda g: _decoder_only("vp8", g),
        C.VP9_DECODE: lambda g: _decoder_only("vp9", g),
        C.VP8_ENCODE: lambda g: _round_trip("vp8", g).encoder,
        C.VP9_ENCODE: lambda g: _round_trip("vp9", g).encoder,
        C.H264_DECODE_444_8BIT: lambda g: _pixfmt(g, "yuv444p"),
        C.H264_DECODE_422_8BIT: lambda g: _pixfmt(g, "yuv422p"),
        C.H264_DECODE_444_10BIT: lambda g: _pixfmt(g, "yuv444p10le"),
        C.H264_DECODE_422_10BIT: lambda g: _pixfmt(g, "yuv422p10le"),
        C.H264_DECODE_420_10BIT: lambda g: _pixfmt(g, "yuv420p10le"),
        # Slicing a segment is decode + trim + encode: it needs exactly what H.264 needs.
        C.SEGMENT_SLICING: lambda g: _round_trip("h264", g).encoder + " (decode, trim, encode)",
    }


def _pixfmt(gpu: bool, pix_fmt: str) -> str:
    encoded = _round_trip("h264", gpu, pix_fmt)
    return f"h264 decodes {pix_fmt} from {encoded.encoder}"


@dataclass(frozen=True)
class ProbeResult:
    proven: dict[Capability, str]  # capability -> what proved it
    missing: dict[Capability, str]  # capability -> why not
    # The encoder renditions of each codec use: the first of ENCODERS that encoded here.
    encoders: dict[VideoCodec, str] = field(default_factory=dict)


def probe(hardware: Hardware, timeout_s: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Runs every check (about 0.1 s on a CPU); never raises. The whole probe is bounded by
    `timeout_s`: a check still running then (a codec library stuck in a driver or spinning)
    is left behind in its daemon thread and what it would prove is missing, so the node starts
    with what was proven instead of never starting."""
    gpu = bool(hardware.gpus)
    deadline = time.monotonic() + timeout_s
    proven: dict[Capability, str] = dict(ALWAYS)
    missing: dict[Capability, str] = {
        Capability.STORAGE_S3: "no S3 storage driver yet",
        Capability.STORAGE_GCS: "no GCS storage driver yet",
    }
    for cap, check in _checks().items():
        try:
            proven[cap] = _bounded(partial(check, gpu), deadline, f"the {cap.name} check")
        except Exception as err:
            missing[cap] = str(err) or type(err).__name__
    encoders = {}
    for name, codec in CODECS.items():
        try:
            encoders[codec] = _bounded(partial(_first, name, gpu), deadline, name).encoder
        except (RuntimeError, TimeoutError) as err:
            log.info("no %s encoder: %s", name, err)
    return ProbeResult(proven, missing, encoders)


def _bounded(check: Callable[[], T], deadline: float, what: str) -> T:
    """`check()` in a daemon thread, waited for until `deadline` (time.monotonic()); raises
    what it raised, or TimeoutError (logged) once the deadline passes."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, check()))
        except BaseException as err:  # handed to the caller
            outcome.append((False, err))

    thread = threading.Thread(target=run, name=f"codec probe: {what}", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if not outcome:
        log.warning("codec probe: %s did not finish in time; left running, not advertised", what)
        raise TimeoutError(f"{what} did not finish within the probe's time")
    ok, value = outcome[0]
    if not ok:
        raise value
    return cast(T, value)


def transcoding_offer(result: ProbeResult) -> Offer:
    """The transcoding capabilities to advertise: capacity 1 each, as go advertises them."""
    caps: dict[int, int] = {c: 1 for c in result.proven}
    if Capability.H264 not in result.proven:  # nothing can transcode without an H.264 path
        caps = {c: 1 for c in ALWAYS}
    return Offer(capacities=caps, detail={c: result.proven[Capability(c)] for c in caps})
