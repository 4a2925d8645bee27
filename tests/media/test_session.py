"""Transcoding sessions: one segment at a time, a queue of 4, timestamps across segments."""

from __future__ import annotations

import io
import threading
from fractions import Fraction

import av
import pytest

from lpengine.media.profile import VideoProfile
from lpengine.media.session import QUEUE_DEPTH, OrchestratorBusy, TranscodeSessions
from lpengine.media.transcode import Clip, Timeline, TranscodeError, transcode_segment
from tests.media.conftest import FPS, SECONDS

LADDER = [VideoProfile("a", 160, 96, 200_000), VideoProfile("b", 128, 72, 100_000, fps=15)]


def pts_of(data: bytes) -> list[int]:
    with av.open(io.BytesIO(data)) as c:
        return sorted(f.pts for f in c.decode(video=0))


def test_a_full_queue_answers_orchestrator_busy_and_the_queued_ones_finish(segment):
    session = TranscodeSessions().get("s")
    results, errors = [], []

    def send() -> None:
        try:
            results.append(session.transcode(segment, LADDER[:1]))
        except Exception as err:  # collected for the assertion
            errors.append(err)

    with session._run:  # held here: the segments queue up behind it
        threads = [threading.Thread(target=send) for _ in range(QUEUE_DEPTH)]
        for t in threads:
            t.start()
        while session.queued < QUEUE_DEPTH:  # NOTE: no event to wait on inside the lock
            threading.Event().wait(0.001)
        with pytest.raises(OrchestratorBusy, match=r"^OrchestratorBusy$"):
            session.transcode(segment, LADDER[:1])
    for t in threads:
        t.join()
    assert not errors and len(results) == QUEUE_DEPTH
    stats = session.stats()
    assert stats.segments == QUEUE_DEPTH
    assert stats.encoded_pixels == QUEUE_DEPTH * 160 * 96 * FPS * SECONDS
    assert stats.pixels_per_s == pytest.approx(160 * 96 * FPS)


def test_timestamps_continue_across_segments_and_reset_on_request(segment):
    session = TranscodeSessions().get("s")
    runs = [session.transcode(segment, LADDER) for _ in range(3)]
    for i, profile in enumerate(LADDER):
        fps = profile.fps or FPS
        step = 90_000 // fps
        second, third = pts_of(runs[1].renditions[i].data), pts_of(runs[2].renditions[i].data)
        assert len(second) == len(third) == fps * SECONDS
        assert third[0] == second[-1] + step
    assert session.timeline.end is not None and session.timeline.offset == 2 * SECONDS
    again = session.transcode(segment, LADDER, reset=True)
    assert pts_of(again.renditions[0].data)[0] == pts_of(runs[0].renditions[0].data)[0]


def test_a_forward_gap_is_kept_and_its_slots_stay_empty():
    timeline = Timeline()
    timeline.end = Fraction(2)
    timeline.place(Fraction(4), Fraction(1, 30))  # one segment lost: real, kept
    assert timeline.offset == 0
    timeline.place(Fraction(60), Fraction(1, 30))  # far ahead: a new clock
    assert timeline.offset == 2 - 60
    clock = Timeline().clock(VideoProfile("c", 64, 64, 0, fps=10))
    assert clock.until(Fraction(0), Fraction(1, 2)) == [Fraction(k, 10) for k in range(5)]
    assert clock.until(Fraction(1), Fraction(11, 10)) == [Fraction(1)]  # 0.5 s - 1 s: empty


def test_clip_keeps_its_window(segment):
    out = transcode_segment(segment, LADDER, clip=Clip(500, 1500))
    assert [r.frames for r in out.renditions] == [FPS, 15]
    assert out.duration_s == pytest.approx(1.0)
    with av.open(io.BytesIO(out.renditions[0].data)) as c:
        audio = list(c.demux(audio=0))
    assert audio  # audio of the window passes through
    with pytest.raises(TranscodeError, match="Invalid argument"):
        transcode_segment(segment, LADDER, clip=Clip(9000, 0))
    with pytest.raises(ValueError, match="clip: 'to' 100 ms must be after 'from' 200 ms"):
        Clip(200, 100)


def test_sessions_are_pruned_when_no_longer_open_and_idle(segment):
    sessions = TranscodeSessions()
    sessions.get("a").transcode(segment, LADDER[:1])
    sessions.get("b")
    assert sessions.pixel_rates() == {"a": pytest.approx(160 * 96 * FPS)}
    sessions.prune(lambda sid: sid == "a")
    assert len(sessions) == 1
    sessions.end("a")
    assert len(sessions) == 0
