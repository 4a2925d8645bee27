"""Which balance a payment credits and a piece of work debits (protocol.md §7.6).

A balance is per (sender, key). The key depends on the route the payment came with; these name
the rule once, so the routes and their debits agree.
"""

from __future__ import annotations

LIVE_UNITS_PER_SECOND = 1280 * 720 * 30
"""Live video-to-video is priced as 720p30 whatever the stream: 27,648,000 units a second."""
LIVE_DEBIT_INTERVAL_S = 5.0
BYOC_SSE_DEBIT_SECONDS = 5
BYOC_STREAM_DEBIT_SECONDS = 23


def segment_key(auth_token_session_id: str) -> str:
    """`POST /segment`: the session id of the auth token (one per transcoding session)."""
    return auth_token_session_id


def payment_key(manifest_id: str) -> str:
    """`POST /payment`: SegData.manifestId (credit only; the live stream's `mid`)."""
    return manifest_id


def ai_key(capability_id: int, model_id: str) -> str:
    """Batch AI: `<capability>_<model>`, e.g. `27_stabilityai/sd-turbo` for text-to-image."""
    return f"{capability_id}_{model_id}"


def live_key(manifest_id: str) -> str:
    """Live video-to-video: the stream's manifest id `mid` (the one `/payment` credits)."""
    return manifest_id


def byoc_key(capability_name: str) -> str:
    """BYOC jobs and streams: the capability name."""
    return capability_name


def live_units(elapsed_s: float) -> tuple[int, float]:
    """Units to debit for `elapsed_s` of live video, and the seconds left over for next time.

    units = floor(27,648,000 * seconds); the fraction of a unit is carried, not lost.
    """
    if elapsed_s < 0:
        raise ValueError(f"elapsed_s: expected >= 0, got {elapsed_s}")
    units = int(LIVE_UNITS_PER_SECOND * elapsed_s)
    return units, elapsed_s - units / LIVE_UNITS_PER_SECOND
