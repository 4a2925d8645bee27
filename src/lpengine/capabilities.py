"""Capabilities: the IDs gateways and orchestrators agree on, capability sets and compatibility.

A `CapabilitySet` is the plain form of the wire's `net.Capabilities` (protocol.md §3): a bitstring
(capability c is bit c % 64 of word c / 64), mandatories, capacities, the node version and, per
capability, the models with their constraints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class Capability(IntEnum):
    H264 = 0
    MPEGTS = 1
    MP4 = 2
    FRACTIONAL_FRAMERATES = 3
    STORAGE_DIRECT = 4
    STORAGE_S3 = 5
    STORAGE_GCS = 6
    H264_BASELINE = 7
    H264_MAIN = 8
    H264_HIGH = 9
    H264_CONSTRAINED_HIGH = 10
    GOP = 11
    AUTH_TOKEN = 12
    SCENE_CLASSIFICATION = 13  # deprecated; the slot is kept, never advertised
    MPEG7_SIGNATURE = 14
    HEVC_DECODE = 15
    HEVC_ENCODE = 16
    VP8_DECODE = 17
    VP9_DECODE = 18
    VP8_ENCODE = 19
    VP9_ENCODE = 20
    H264_DECODE_444_8BIT = 21
    H264_DECODE_422_8BIT = 22
    H264_DECODE_444_10BIT = 23
    H264_DECODE_422_10BIT = 24
    H264_DECODE_420_10BIT = 25
    SEGMENT_SLICING = 26
    TEXT_TO_IMAGE = 27
    IMAGE_TO_IMAGE = 28
    IMAGE_TO_VIDEO = 29
    UPSCALE = 30
    AUDIO_TO_TEXT = 31
    SEGMENT_ANYTHING_2 = 32
    LLM = 33
    IMAGE_TO_TEXT = 34
    LIVE_VIDEO_TO_VIDEO = 35
    TEXT_TO_SPEECH = 36
    BYOC = 37


# go-livepeer's capability names; pipeline names map onto them (see `capability_for_pipeline`).
NAMES: dict[Capability, str] = {
    Capability.H264: "H.264",
    Capability.MPEGTS: "MPEGTS",
    Capability.MP4: "MP4",
    Capability.FRACTIONAL_FRAMERATES: "Fractional framerates",
    Capability.STORAGE_DIRECT: "Storage direct",
    Capability.STORAGE_S3: "Storage S3",
    Capability.STORAGE_GCS: "Storage GCS",
    Capability.H264_BASELINE: "H264 Baseline profile",
    Capability.H264_MAIN: "H264 Main profile",
    Capability.H264_HIGH: "H264 High profile",
    Capability.H264_CONSTRAINED_HIGH: "H264 Constrained, Contained High profile",
    Capability.GOP: "GOP",
    Capability.AUTH_TOKEN: "Auth token",
    Capability.SCENE_CLASSIFICATION: "SceneClassification",
    Capability.MPEG7_SIGNATURE: "MPEG7 signature",
    Capability.HEVC_DECODE: "HEVC decode",
    Capability.HEVC_ENCODE: "HEVC encode",
    Capability.VP8_DECODE: "VP8 decode",
    Capability.VP9_DECODE: "VP9 decode",
    Capability.VP8_ENCODE: "VP8 encode",
    Capability.VP9_ENCODE: "VP9 encode",
    Capability.H264_DECODE_444_8BIT: "H264 Decode YUV444 8-bit",
    Capability.H264_DECODE_422_8BIT: "H264 Decode YUV422 8-bit",
    Capability.H264_DECODE_444_10BIT: "H264 Decode YUV444 10-bit",
    Capability.H264_DECODE_422_10BIT: "H264 Decode YUV422 10-bit",
    Capability.H264_DECODE_420_10BIT: "H264 Decode YUV420 10-bit",
    Capability.SEGMENT_SLICING: "Segment slicing",
    Capability.TEXT_TO_IMAGE: "Text to image",
    Capability.IMAGE_TO_IMAGE: "Image to image",
    Capability.IMAGE_TO_VIDEO: "Image to video",
    Capability.UPSCALE: "Upscale",
    Capability.AUDIO_TO_TEXT: "Audio to text",
    Capability.SEGMENT_ANYTHING_2: "Segment anything 2",
    Capability.LLM: "Llm",
    Capability.IMAGE_TO_TEXT: "Image to text",
    Capability.LIVE_VIDEO_TO_VIDEO: "Live video to video",
    Capability.TEXT_TO_SPEECH: "Text to speech",
    Capability.BYOC: "byoc",
}
_BY_NAME = {name: cap for cap, name in NAMES.items()}


def capability_name(capability: int) -> str:
    try:
        return NAMES[Capability(capability)]
    except ValueError:
        return f"unknown capability {capability}"


def capability_for_pipeline(pipeline: str) -> Capability:
    """'text-to-image' -> TEXT_TO_IMAGE: first letter upper-cased, '-' -> ' ', as go does."""
    name = pipeline[:1].upper() + pipeline[1:].replace("-", " ")
    if not pipeline or name not in _BY_NAME or _BY_NAME[name] < Capability.TEXT_TO_IMAGE:
        raise ValueError(f"pipeline: expected an AI pipeline name, got {pipeline!r}")
    return _BY_NAME[name]


def encode_bitstring(capabilities: Iterable[int]) -> tuple[int, ...]:
    """Capability IDs -> uint64 words; negative IDs are never encoded."""
    words: list[int] = []
    for c in capabilities:
        if c < 0:
            continue
        word, bit = divmod(c, 64)
        words.extend([0] * (word + 1 - len(words)))
        words[word] |= 1 << bit
    return tuple(words)


def decode_bitstring(words: Iterable[int]) -> frozenset[int]:
    return frozenset(
        i * 64 + bit for i, word in enumerate(words) for bit in range(64) if word >> bit & 1
    )


@dataclass(frozen=True)
class ModelConstraint:
    """What one model of one capability offers (or what a gateway requires of it)."""

    warm: bool = False
    capacity: int = 0  # free slots (live video: idle runners)
    runner_version: str = ""
    capacity_in_use: int = 0  # busy slots (live video: runners in use)


@dataclass(frozen=True)
class CapabilitySet:
    """The plain form of `net.Capabilities`."""

    bitstring: tuple[int, ...] = ()
    mandatories: tuple[int, ...] = ()
    capacities: Mapping[int, int] = field(default_factory=dict)
    version: str = ""
    min_version: str = ""
    per_capability: Mapping[int, Mapping[str, ModelConstraint]] = field(default_factory=dict)

    @property
    def ids(self) -> frozenset[int]:
        return decode_bitstring(self.bitstring)

    def requested_models(self) -> list[tuple[int, str]]:
        """(capability, model) pairs present in both `capacities` and `per_capability`."""
        return [
            (cap, model)
            for cap in sorted(self.per_capability)
            if cap in self.capacities
            for model in sorted(self.per_capability[cap])
        ]

    def compatible_with(self, orchestrator: CapabilitySet) -> bool:
        """Whether an orchestrator advertising `orchestrator` can serve these requirements.

        go's `CompatibleWith` (protocol.md §3.3); `self` is what the gateway requires.
        """
        if self.min_version:
            minimum = _semver(self.min_version)
            if minimum is not None:  # an unparsable minVersion is ignored
                have = _semver(orchestrator.version)
                if have is None or have < minimum:
                    return False
        if not _bits_cover(self.bitstring, orchestrator.mandatories):
            return False
        for cap, wanted in self.per_capability.items():
            offered = orchestrator.per_capability.get(cap)
            if offered is None:
                continue
            for model, need in wanted.items():
                have_model = offered.get(model)
                if have_model is None or (need.warm and not have_model.warm):
                    return False
                if need.runner_version and not version_at_least(
                    have_model.runner_version, need.runner_version
                ):
                    return False
        return _bits_cover(orchestrator.bitstring, self.bitstring)


def _bits_cover(have: tuple[int, ...], need: tuple[int, ...]) -> bool:
    """need AND have == need, where a `need` longer than `have` fails (as go compares arrays)."""
    if len(need) > len(have):
        return False
    return all(n & h == n for n, h in zip(need, have, strict=False))


_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?$")


def _semver(version: str) -> tuple[int, int, int] | None:
    """'v0.7.9-ai.3' -> (0, 7, 9); pre-release and build suffixes are ignored."""
    m = _SEMVER.match(version.strip())
    if m is None:
        return None
    major, minor, patch = (int(g) if g else 0 for g in m.groups())
    return major, minor, patch


def version_at_least(version: str, minimum: str) -> bool:
    """Semver comparison ignoring pre-release suffixes; an unparsable minimum always passes."""
    want = _semver(minimum)
    if want is None:
        return True
    have = _semver(version)
    return have is not None and have >= want
