"""VideoProfile: one rendition a gateway asks for, equal in meaning to go-livepeer's.

Enum values are the wire's (`net.VideoProfile`, protocol.md §2.4), not lpms' internal ones
(lpms counts formats from FormatNone = 0). A profile's 4-byte ID is keccak256(name)[:4]
(protocol.md §6); it is what SegData signatures cover.

    ladder = [PRESETS["P720p30fps16x9"], PRESETS["P360p30fps16x9"]]
    check_profiles(ladder)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from lpengine.pm.keccak import keccak256

MAX_RENDITIONS = 10
MAX_SIDE = 8192  # H.264 level 6.2 tops out near 8192x4320; 20000x20000 is refused
MAX_FPS = 240
MAX_INT32 = 2**31 - 1
MAX_UINT32 = 2**32 - 1
GOP_INTRA_ONLY = -1  # gop_ms: every frame a key frame (go's GOPIntraOnly)
COLOR_DEPTHS = (8, 10, 12)


class Format(IntEnum):
    MPEGTS = 0
    MP4 = 1


class H264Profile(IntEnum):
    ENCODER_DEFAULT = 0
    BASELINE = 1
    MAIN = 2
    HIGH = 3
    CONSTRAINED_HIGH = 4  # high without B-frames


class VideoCodec(IntEnum):
    H264 = 0
    HEVC = 1
    VP8 = 2
    VP9 = 3
    # NOTE: lpengine's addition; go's enum stops at VP9, so AV1 never appears on the wire.
    AV1 = 4


class Chroma(IntEnum):
    CHROMA_420 = 0
    CHROMA_422 = 1
    CHROMA_444 = 2


def default_name(width: int, height: int, bitrate: int) -> str:
    """go's name for an unnamed wire profile."""
    return f"net_{width}x{height}_{bitrate}"


def profile_id(name: str) -> bytes:
    """The 4-byte profile ID: keccak256(name)[:4] (`P720p30fps16x9` -> 49d54ea9)."""
    return keccak256(name.encode())[:4]


def _int(field: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{field}: expected an int in [{low}, {high}], got {value!r}")
    return value


@dataclass(frozen=True)
class VideoProfile:
    """One output rendition; fps 0 = the input's rate (passthrough), fps_den 0 = 1."""

    name: str
    width: int
    height: int
    bitrate: int  # bps; 0 = the encoder's default rate control
    fps: int = 0
    fps_den: int = 0
    gop_ms: int = 0  # 0 = the encoder's default; GOP_INTRA_ONLY = all key frames
    profile: H264Profile = H264Profile.ENCODER_DEFAULT
    codec: VideoCodec = VideoCodec.H264
    format: Format = Format.MPEGTS
    color_depth: int = 8
    chroma: Chroma = Chroma.CHROMA_420
    quality: int = 0  # CRF-like; 0 = unset

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ValueError(f"name: expected a string, got {self.name!r}")
        for side in ("width", "height"):
            value = _int(side, getattr(self, side), 0, MAX_INT32)
            if value == 0 or value % 2 or value > MAX_SIDE:
                raise ValueError(f"{side}: expected an even size in [2, {MAX_SIDE}], got {value}")
        _int("bitrate", self.bitrate, 0, MAX_INT32)
        _int("fps", self.fps, 0, MAX_UINT32)
        _int("fps_den", self.fps_den, 0, MAX_UINT32)
        if self.fps and self.fps > MAX_FPS * (self.fps_den or 1):
            raise ValueError(f"fps: expected at most {MAX_FPS} frames/s, got {self.rate_text}")
        _int("gop_ms", self.gop_ms, GOP_INTRA_ONLY, MAX_INT32)
        _int("quality", self.quality, 0, 51)
        if self.color_depth not in COLOR_DEPTHS:
            raise ValueError(
                f"color_depth: expected one of {COLOR_DEPTHS}, got {self.color_depth!r}"
            )
        for field, enum in (
            ("profile", H264Profile),
            ("codec", VideoCodec),
            ("format", Format),
            ("chroma", Chroma),
        ):
            value = getattr(self, field)
            if isinstance(value, bool) or value not in set(enum):
                raise ValueError(f"{field}: expected a {enum.__name__}, got {value!r}")
            object.__setattr__(self, field, enum(value))
        if not self.name:
            object.__setattr__(self, "name", default_name(self.width, self.height, self.bitrate))

    @property
    def id(self) -> bytes:
        return profile_id(self.name)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def passthrough_fps(self) -> bool:
        return self.fps == 0

    @property
    def rate_text(self) -> str:
        return f"{self.fps}/{self.fps_den or 1}"

    @property
    def container(self) -> str:
        """The muxer: `format`'s, except that VP8 and VP9, which neither MPEG-TS nor (for VP8)
        MP4 can carry, go into WebM, and AV1 asked for in MPEG-TS goes into MP4."""
        if self.codec in (VideoCodec.VP8, VideoCodec.VP9) and (
            self.format == Format.MPEGTS or self.codec == VideoCodec.VP8
        ):
            return "webm"
        if self.codec == VideoCodec.AV1 and self.format == Format.MPEGTS:
            return "mp4"
        return "mpegts" if self.format == Format.MPEGTS else "mp4"

    @property
    def extension(self) -> str:
        """The rendition's file extension: .ts, .mp4 or .webm (see `container`)."""
        return {"mpegts": ".ts", "mp4": ".mp4", "webm": ".webm"}[self.container]


def check_profiles(profiles: Sequence[VideoProfile]) -> tuple[VideoProfile, ...]:
    """The renditions of one request: 1 to MAX_RENDITIONS VideoProfiles."""
    if not 1 <= len(profiles) <= MAX_RENDITIONS:
        raise ValueError(
            f"profiles: expected 1 to {MAX_RENDITIONS} renditions, got {len(profiles)}"
        )
    for i, p in enumerate(profiles):
        if not isinstance(p, VideoProfile):
            raise ValueError(f"profiles[{i}]: expected a VideoProfile, got {type(p).__name__}")
    return tuple(profiles)


def _preset(name: str, size: str, bitrate_k: int, fps: int) -> VideoProfile:
    w, h = (int(v) for v in size.split("x"))
    return VideoProfile(name, w, h, bitrate_k * 1000, fps)


# go-livepeer's stock profiles (lpms ffmpeg/videoprofile.go).
PRESETS: dict[str, VideoProfile] = {
    p.name: p
    for p in (
        _preset("P720p60fps16x9", "1280x720", 6000, 60),
        _preset("P720p30fps16x9", "1280x720", 4000, 30),
        _preset("P720p25fps16x9", "1280x720", 3500, 25),
        _preset("P720p30fps4x3", "960x720", 3500, 30),
        _preset("P576p30fps16x9", "1024x576", 1500, 30),
        _preset("P576p25fps16x9", "1024x576", 1500, 25),
        _preset("P360p30fps16x9", "640x360", 1200, 30),
        _preset("P360p25fps16x9", "640x360", 1000, 25),
        _preset("P360p30fps4x3", "480x360", 1000, 30),
        _preset("P240p30fps16x9", "426x240", 600, 30),
        _preset("P240p25fps16x9", "426x240", 600, 25),
        _preset("P240p30fps4x3", "320x240", 600, 30),
        _preset("P144p30fps16x9", "256x144", 400, 30),
        _preset("P144p25fps16x9", "256x144", 400, 25),
    )
}
