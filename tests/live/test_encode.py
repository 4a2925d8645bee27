"""The live encoder: frames handed over in one reused buffer come out as they were, with the
x264 threading picked by frame size."""

from __future__ import annotations

import io
import re

import av
import numpy as np
import pytest

from lpengine.live.encode import SINGLE_THREAD_MAX_PIXELS, LiveEncoder, open_encoder, x264_options


class KeepSink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def cut(self) -> None:
        pass


def x264_settings(stream: bytes) -> str:
    """The option string x264 writes into the first IDR's SEI."""
    with av.open(io.BytesIO(stream), format="mpegts") as container:
        for packet in container.demux(video=0):
            found = re.search(rb"options: ([^\x00]*)", bytes(packet))
            if found:
                return found.group(1).decode()
    raise AssertionError("no x264 SEI in the stream")


@pytest.mark.parametrize(("width", "height", "threads"), [(512, 512, "1"), (1280, 720, "auto")])
def test_threads_by_frame_size(width, height, threads):
    assert x264_options(width, height)["threads"] == threads
    assert (width * height <= SINGLE_THREAD_MAX_PIXELS) == (threads == "1")
    assert x264_options(width, height)["preset"] == "superfast"


@pytest.mark.parametrize(("width", "height"), [(512, 512), (1280, 720)])
def test_reused_buffer_frames_come_out_unchanged(width, height):
    sink, buffer = KeepSink(), np.empty((height * 3 // 2, width), np.uint8)
    encoder = LiveEncoder(sink, width, height)
    levels = [40, 120, 200, 80]
    for i, level in enumerate(levels):
        buffer[:height] = level  # NOTE: overwritten right after each encode, as the session does
        buffer[height:] = 128
        assert encoder.encode(buffer, i / 30)
    buffer[:] = 0
    encoder.close()
    with av.open(io.BytesIO(bytes(sink.data)), format="mpegts") as container:
        lumas = [float(f.to_ndarray()[:height].mean()) for f in container.decode(video=0)]
    assert lumas == pytest.approx(levels, abs=2)
    if width * height <= SINGLE_THREAD_MAX_PIXELS:  # one thread, one slice
        settings = x264_settings(bytes(sink.data))
        assert "threads=1 " in settings and "sliced_threads=0" in settings


def _nvenc_opens() -> bool:
    try:
        LiveEncoder(KeepSink(), 256, 256, encoder="h264_nvenc").close()
        return True
    except av.FFmpegError:
        return False


def test_a_stream_gets_nvenc_where_it_opens_and_x264_elsewhere():
    sink = KeepSink()
    encoder = open_encoder(sink, 256, 256, preferred="h264_nvenc")
    assert encoder.encoder == ("h264_nvenc" if _nvenc_opens() else "libx264")
    frame = np.full((384, 256), 128, np.uint8)
    for i in range(45):  # 1.5 s: an IDR at 0, then P frames
        frame[:256] = (i * 5) % 256
        assert encoder.encode(frame, i / 30)
    encoder.close()
    with av.open(io.BytesIO(bytes(sink.data)), format="mpegts") as container:
        decoded = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(decoded) == 45
    assert abs(int(decoded[20].mean()) - 100) <= 3  # frame 20: luma 100


def test_an_unknown_encoder_is_refused_before_a_byte_is_written():
    sink = KeepSink()
    with pytest.raises(ValueError, match="encoder: expected libx264 or h264_nvenc, got 'libvpx'"):
        LiveEncoder(sink, 256, 256, encoder="libvpx")
    assert sink.data == bytearray()
