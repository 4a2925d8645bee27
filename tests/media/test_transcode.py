"""The segment transcoder: one decode, the whole ladder, counts a gateway can check."""

from __future__ import annotations

import io
import threading

import av
import numpy as np
import pytest

from lpengine import Engine
from lpengine.config import EngineConfig
from lpengine.media import transcode
from lpengine.media.profile import GOP_INTRA_ONLY, Format, H264Profile, VideoCodec, VideoProfile
from lpengine.media.transcode import TranscodeError, transcode_segment
from tests.media.conftest import FPS, HEIGHT, SECONDS, WIDTH, make_segment

LADDER = (
    VideoProfile("same", WIDTH, HEIGHT, 600_000),  # passthrough fps
    VideoProfile("half", 160, 120, 200_000, fps=15, gop_ms=1000, profile=H264Profile.BASELINE),
    VideoProfile("mp4", 256, 144, 300_000, fps=30, fps_den=1, format=Format.MP4),
)


def decode(data: bytes) -> tuple[str, list[av.VideoFrame], list[av.Packet], int]:
    """(container format, video frames, video packets, audio packets) of a rendition."""
    with av.open(io.BytesIO(data)) as c:
        # NOTE: read a packet's stream while its container is open (PyAV crashes after).
        kinds = [(p, p.stream.type) for p in c.demux() if p.size]
    with av.open(io.BytesIO(data)) as c:
        frames = list(c.decode(video=0))
        fmt = c.format.name
    video = [p for p, kind in kinds if kind == "video"]
    return fmt, frames, video, len(kinds) - len(video)


@pytest.fixture(scope="module")
def result(segment):
    return transcode_segment(segment, LADDER)


def test_ladder_sizes_frames_and_pixels(result):
    frames = FPS * SECONDS
    assert (result.decoded_frames, result.decoded_pixels) == (frames, frames * WIDTH * HEIGHT)
    assert [r.profile for r in result.renditions] == list(LADDER)
    for r, expected_frames in zip(result.renditions, (frames, frames // 2, frames), strict=True):
        fmt, decoded, packets, _ = decode(r.data)
        p = r.profile
        assert fmt == ("mpegts" if p.format == Format.MPEGTS else "mov,mp4,m4a,3gp,3g2,mj2")
        assert {(f.width, f.height) for f in decoded} == {p.size}
        assert len(decoded) == len(packets) == r.frames == expected_frames
        assert r.pixels == p.width * p.height * expected_frames
    assert result.encoded_pixels == sum(r.pixels for r in result.renditions)


def av_offset(data: bytes) -> float:
    """First video frame time minus first audio packet time, s."""
    with av.open(io.BytesIO(data)) as c:
        audio = next(float(p.pts * p.time_base) for p in c.demux(audio=0) if p.pts is not None)
    with av.open(io.BytesIO(data)) as c:
        return float(next(c.decode(video=0)).time) - audio


def test_fps_change_keeps_the_duration_and_sync(segment, result):
    # 30 -> 15 fps: every other frame over the same 2 s, timestamps in the input's time base.
    _, frames, _, _ = decode(result.renditions[1].data)
    assert np.allclose(np.diff([float(f.time) for f in frames]), 1 / 15)
    for r in result.renditions:
        assert av_offset(r.data) == pytest.approx(av_offset(segment), abs=1e-3)


def test_encoder_settings_reach_the_stream(result):
    _, _, packets, _ = decode(result.renditions[1].data)
    assert [i for i, p in enumerate(packets) if p.is_keyframe] == [0, 15]  # gop 1000 ms at 15 fps
    with av.open(io.BytesIO(result.renditions[1].data)) as c:
        assert c.streams.video[0].codec_context.profile == "Constrained Baseline"


def test_audio_is_passed_through(segment, result):
    _, _, _, audio_in = decode(segment)
    for r in result.renditions:
        assert decode(r.data)[3] == audio_in > 0


def test_intra_only_and_mp4_input():
    segment = make_segment("mp4", audio=False)
    intra = VideoProfile("intra", 160, 120, 400_000, fps=10, gop_ms=GOP_INTRA_ONLY)
    (r,) = transcode_segment(segment, [intra]).renditions
    _, frames, packets, audio = decode(r.data)
    assert len(frames) == r.frames == 10 * SECONDS and audio == 0
    assert all(p.is_keyframe for p in packets)


def test_engine_transcodes_without_a_server(tmp_path, segment):
    with Engine(EngineConfig(data_dir=tmp_path)) as engine:
        result = engine.transcode(segment, [VideoProfile("", 160, 120, 200_000)])
    assert result.renditions[0].frames == FPS * SECONDS
    assert result.renditions[0].profile.name == "net_160x120_200000"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda s: b"", "Invalid argument"),
        (lambda s: np.random.default_rng(7).bytes(50_000), "Invalid argument"),
        (lambda s: s[:564], "No keyframes in input"),  # three TS packets: no whole frame
        (lambda s: make_segment(video=False), "No keyframes in input"),  # audio only
        (lambda s: make_segment(codec="mpeg2video"), "Unsupported input codec"),
    ],
    ids=["empty", "random", "truncated", "audio-only", "mpeg2"],
)
def test_bad_input_is_a_typed_error(segment, make, reason, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    threads = threading.active_count()
    with pytest.raises(TranscodeError) as err:
        transcode_segment(make(segment), LADDER)
    assert str(err.value) == reason and err.value.detail
    assert threading.active_count() == threads  # every encoder thread joined
    assert not list(tmp_path.iterdir())  # nothing written to disk


@pytest.mark.parametrize(
    ("limit", "value", "detail"),
    [
        ("MAX_SIDE", 200, f"{WIDTH}x{HEIGHT} input exceeds 200"),  # as 20000x20000 would
        ("MAX_SEGMENT_S", 1, "the segment is longer than 1 s"),  # as 5 min would
    ],
)
def test_oversized_input_is_refused(segment, monkeypatch, limit, value, detail):
    monkeypatch.setattr(transcode, limit, value)
    threads = threading.active_count()
    with pytest.raises(TranscodeError, match=r"^Invalid argument$") as err:
        transcode_segment(segment, LADDER)
    assert err.value.detail == detail
    assert threading.active_count() == threads


def test_truncated_segment_transcodes_what_is_there(segment):
    result = transcode_segment(segment[: len(segment) // 2], LADDER[:1])
    assert 0 < result.renditions[0].frames == result.decoded_frames < FPS * SECONDS


@pytest.mark.parametrize(
    ("codec", "fmt", "container", "video", "audio"),
    [
        (VideoCodec.VP8, Format.MPEGTS, "webm", "vp8", "opus"),  # AAC re-encoded for WebM
        (VideoCodec.VP9, Format.MPEGTS, "webm", "vp9", "opus"),
        (VideoCodec.VP9, Format.MP4, "mp4", "vp9", "aac"),
        (VideoCodec.AV1, Format.MP4, "mp4", "av1", "aac"),
    ],
)
def test_vpx_and_av1_renditions(segment, codec, fmt, container, video, audio):
    profile = VideoProfile("r", 160, 96, 200_000, fps=15, codec=codec, format=fmt)
    assert profile.container == container
    (r,) = transcode_segment(segment, [profile]).renditions
    with av.open(io.BytesIO(r.data)) as c:
        assert container in c.format.name.split(",")
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.codec.id == av.Codec(video, "r").id and a.codec.name == audio
        frames = list(c.decode(video=0))
        seconds = sum(1 for _ in c.demux(audio=0))
    assert r.frames == len(frames) == 15 * SECONDS and seconds
    assert (frames[0].width, frames[0].height) == (160, 96)


def test_an_encoder_that_cannot_open_is_a_typed_error(segment):
    profile = VideoProfile("h", 160, 96, 200_000)
    with pytest.raises(TranscodeError, match=r"^Encoder not found$") as err:
        transcode_segment(segment, [profile], encoders={VideoCodec.H264: "no_such_encoder"})
    assert "no_such_encoder" in err.value.detail


def test_hevc_rendition(segment):
    hevc = VideoProfile("hevc", 160, 120, 200_000, fps=5, codec=VideoCodec.HEVC)
    (r,) = transcode_segment(segment, [hevc]).renditions
    with av.open(io.BytesIO(r.data)) as c:
        assert c.streams.video[0].codec_context.name == "hevc"
    assert r.frames == 5 * SECONDS
