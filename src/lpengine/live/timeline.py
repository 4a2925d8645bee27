"""Input frame times to the output's timeline, which only moves forward.

A live input's timestamps restart when its publisher does (a new encoder, a reconnect, a
resolution change made by restarting the encoder) and can jump ahead across a gap. The output
is one continuous MPEG-TS stream whose timestamps must keep increasing, so a jump back, or
ahead by more than `MAX_GAP_S`, re-anchors the input to continue one frame after the last
output frame. Small steps (frame jitter, a duplicate time) pass through unchanged: the encoder
drops a frame that does not follow the last one.
"""

from __future__ import annotations

MAX_BACK_S = 0.5  # a step back larger than this is a restart, not jitter
MAX_GAP_S = 5.0  # a step ahead larger than this is a jump, not dropped frames
FRAME_S = 1 / 30  # the step taken across a jump


class Timeline:
    def __init__(self) -> None:
        self._offset = 0.0
        self._last_in: float | None = None
        self._last_out = 0.0
        self.jumps = 0

    def map(self, time_s: float) -> tuple[float, float | None]:
        """(the output time of an input frame at `time_s`, the input's jump in seconds when it
        jumped, else None)."""
        jump = None
        if self._last_in is not None:
            step = time_s - self._last_in
            if step < -MAX_BACK_S or step > MAX_GAP_S:
                jump = step
                self.jumps += 1
                self._offset = self._last_out + FRAME_S - time_s
        self._last_in = time_s
        out = time_s + self._offset
        self._last_out = max(self._last_out, out)
        return out, jump
