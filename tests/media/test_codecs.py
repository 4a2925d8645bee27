"""The codec probe proves capabilities by encoding and decoding with this machine's PyAV."""

from __future__ import annotations

import threading

import pytest

from lpengine import hardware
from lpengine.capabilities import Capability
from lpengine.media import codecs


@pytest.fixture(scope="module")
def result() -> codecs.ProbeResult:
    return codecs.probe(hardware.detect())


def test_h264_transcoding_is_proven(result):
    # The FFmpeg in PyAV's wheels has libx264 and the h264 decoder; every CI machine has them.
    for cap in (
        Capability.H264,
        Capability.MPEGTS,
        Capability.MP4,
        Capability.GOP,
        Capability.H264_BASELINE,
        Capability.H264_MAIN,
        Capability.H264_HIGH,
    ):
        assert cap in result.proven, result.missing.get(cap)
    assert "libx264" in result.proven[Capability.H264] or "nvenc" in result.proven[Capability.H264]


def test_never_advertises_what_lpengine_cannot_do(result):
    assert Capability.STORAGE_S3 in result.missing and Capability.STORAGE_GCS in result.missing
    assert Capability.SCENE_CLASSIFICATION not in result.proven
    assert not set(result.proven) & set(result.missing)
    assert all(c < Capability.TEXT_TO_IMAGE for c in result.proven)  # no AI from a codec probe


def test_offer_is_what_was_proven(result):
    offer = codecs.transcoding_offer(result)
    assert set(offer.capacities) == set(result.proven)
    assert set(offer.capacities.values()) == {1}
    no_h264 = codecs.ProbeResult(
        proven={c: p for c, p in result.proven.items() if c != Capability.H264}, missing={}
    )
    assert set(codecs.transcoding_offer(no_h264).capacities) == set(codecs.ALWAYS)


def test_checks_fail_when_the_output_is_not_what_was_asked(monkeypatch):
    with pytest.raises(RuntimeError, match="decoded as"):
        codecs._h264_profile(False, "main", "High")  # main profile does not decode as High
    with pytest.raises(RuntimeError):
        codecs._round_trip("vp8", False, "yuv444p")  # libvpx's VP8 has no 4:4:4
    # Only a GPU encoder and no GPU: nothing to prove H.264 with.
    monkeypatch.setitem(codecs.ENCODERS, "h264", ("h264_nvenc",))
    with pytest.raises(RuntimeError, match="no h264 encoder"):
        codecs._first("h264", False)


def test_a_check_that_does_not_finish_is_left_behind_and_not_advertised(monkeypatch):
    release = threading.Event()
    checks = codecs._checks()

    def stuck(gpu: bool) -> str:
        release.wait(30)  # as a codec library stuck in a driver would
        return "never seen"

    monkeypatch.setattr(codecs, "_checks", lambda: {**checks, Capability.VP9_ENCODE: stuck})
    try:
        result = codecs.probe(hardware.detect(), timeout_s=2.0)
    finally:
        release.set()
    assert "did not finish" in result.missing[Capability.VP9_ENCODE]
    assert Capability.VP9_ENCODE not in codecs.transcoding_offer(result).capacities
    assert Capability.H264 in result.proven  # the checks before it were kept


def test_a_check_that_raises_is_missing_with_its_reason(monkeypatch):
    def broken(gpu: bool) -> str:
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(codecs, "_checks", lambda: {Capability.VP8_ENCODE: broken})
    result = codecs.probe(hardware.detect())
    assert result.missing[Capability.VP8_ENCODE] == "encoder exploded"
