"""VideoProfile: go-livepeer's meaning, its presets and IDs, and validation naming the field."""

from __future__ import annotations

import pytest

from lpengine.media.profile import (
    MAX_RENDITIONS,
    PRESETS,
    Format,
    H264Profile,
    VideoCodec,
    VideoProfile,
    check_profiles,
    profile_id,
)


def test_profile_ids_are_known_answers():
    # protocol.md §6: the first 4 bytes of keccak256(name).
    assert PRESETS["P720p30fps16x9"].id.hex() == "49d54ea9"
    assert PRESETS["P360p30fps16x9"].id.hex() == "93c717e7"
    assert profile_id("P720p30fps16x9") == PRESETS["P720p30fps16x9"].id


def test_presets_are_go_livepeers():
    p = PRESETS["P720p30fps16x9"]
    assert (p.width, p.height, p.bitrate, p.fps, p.fps_den) == (1280, 720, 4_000_000, 30, 0)
    assert PRESETS["P240p30fps4x3"].size == (320, 240)
    assert PRESETS["P144p30fps16x9"].bitrate == 400_000
    assert len(PRESETS) == 14 and all(name == p.name for name, p in PRESETS.items())
    assert all(p.format == Format.MPEGTS and p.codec == VideoCodec.H264 for p in PRESETS.values())


def test_defaults_and_wire_enum_values():
    p = VideoProfile("", 854, 480, 1_500_000, format=1, profile=3, codec=1)
    assert p.name == "net_854x480_1500000"  # go's name for an unnamed profile
    assert (p.format, p.profile, p.codec) == (Format.MP4, H264Profile.HIGH, VideoCodec.HEVC)
    assert isinstance(p.format, Format) and p.passthrough_fps and p.gop_ms == 0
    assert VideoProfile("x", 2, 2, 0, fps=0, fps_den=0).passthrough_fps  # fps 0/0 = passthrough


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("width", {"width": 0}),
        ("width", {"width": 641}),
        ("width", {"width": 20000}),
        ("height", {"height": 20000}),
        ("height", {"height": -2}),
        ("height", {"height": 2.0}),
        ("bitrate", {"bitrate": -1}),
        ("bitrate", {"bitrate": 2**31}),
        ("fps", {"fps": -1}),
        ("fps", {"fps": 1000}),
        ("fps", {"fps": 240_001, "fps_den": 1000}),
        ("fps_den", {"fps_den": -1}),
        ("gop_ms", {"gop_ms": -2}),
        ("profile", {"profile": 5}),
        ("codec", {"codec": 9}),
        ("format", {"format": 2}),
        ("chroma", {"chroma": 3}),
        ("color_depth", {"color_depth": 9}),
        ("quality", {"quality": 52}),
        ("name", {"name": None}),
    ],
)
def test_validation_names_the_field(field, changes):
    base = {"name": "p", "width": 640, "height": 360, "bitrate": 1_000_000}
    with pytest.raises(ValueError, match=rf"^{field}: expected"):
        VideoProfile(**{**base, **changes})


def test_rendition_count():
    ladder = [PRESETS["P360p30fps16x9"]] * MAX_RENDITIONS
    assert check_profiles(ladder) == tuple(ladder)
    for bad in ([], [*ladder, PRESETS["P240p30fps16x9"]]):
        with pytest.raises(ValueError, match=r"^profiles: expected 1 to 10 renditions"):
            check_profiles(bad)
    with pytest.raises(ValueError, match=r"^profiles\[1\]: expected a VideoProfile"):
        check_profiles([ladder[0], "P720p30fps16x9"])  # type: ignore[list-item]
