"""The plain forms of one POST /segment: the accepted job and its result (protocol.md §4.2).

A segment is taken in two steps around the upload: `Engine.accept_segment` runs the checks
that need only the headers (credentials, payment, balance) and returns a `SegmentJob`; once the
body is read, `SegmentJob.check_body` compares its hash (a 403 still), the server answers 200,
and `Engine.run_segment` transcodes, stores the renditions, debits the encoded pixels and
builds the `SegmentResult` (transcode failures inside it, never a status).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from lpengine.auth_token import AuthToken
from lpengine.discovery import OrchestratorInfo
from lpengine.media.encode import EncodedRendition
from lpengine.media.profile import VideoProfile
from lpengine.payment import CredentialsError, Payment, SegmentCredentials
from lpengine.pm.address import to_hash32
from lpengine.pm.keccak import keccak256

MISMATCHED_SEGMENTS = "MismatchedSegments"  # go: #outputs != #profiles (protocol.md §10)
MEDIA_TYPES = {".ts": "video/mp2t", ".mp4": "video/mp4", ".webm": "video/webm",
               ".png": "image/png", ".wav": "audio/wav"}  # the last two: AI results  # fmt: skip


@dataclass(frozen=True)
class SegmentJob:
    """A segment whose headers passed (protocol.md §4.2 steps 2-9)."""

    creds: SegmentCredentials
    payment: Payment
    token: AuthToken
    info: OrchestratorInfo  # refreshed, with the gateway's original auth token

    @property
    def session_id(self) -> str:
        """The session, and the balance key transcoding is debited from (§7.6)."""
        return self.token.session_id

    @property
    def profiles(self) -> tuple[VideoProfile, ...]:
        return self.creds.profiles

    def check_body(self, body: bytes) -> None:
        """Step 12: keccak256(body) must be SegData.hash; raises CredentialsError('Forbidden')."""
        if keccak256(body) != to_hash32(self.creds.hash):
            raise CredentialsError("Forbidden")


@dataclass(frozen=True)
class StoredRendition:
    """TranscodedSegmentData: where the gateway downloads a rendition, and what it pays for."""

    url: str
    pixels: int  # encoded output pixels


@dataclass(frozen=True)
class SegmentResult:
    """TranscodeResult: the renditions in profile order and their signature, or an error."""

    seq: int
    info: OrchestratorInfo
    renditions: tuple[StoredRendition, ...] = ()
    sig: bytes = b""
    error: str | None = None


def rendition_key(session_id: str, profile: VideoProfile, seq: int) -> str:
    """The store key, and the decoded path under /stream/: `<session>/<profile>/<seq><ext>`."""
    return f"{session_id}/{profile.name}/{seq}{profile.extension}"


def rendition_url(service_uri: str, session_id: str, profile: VideoProfile, seq: int) -> str:
    """The URL a gateway fetches; each path part percent-encoded (profile names are free text,
    and the server matches the decoded path against `rendition_key`)."""
    parts = (session_id, profile.name, f"{seq}{profile.extension}")
    return f"{service_uri}/stream/" + "/".join(quote(part, safe="") for part in parts)


def media_type(key: str) -> str:
    """`video/mp2t`, `video/mp4`, `video/webm`, `image/png` or `audio/wav` by the key's
    extension."""
    for ext, media in MEDIA_TYPES.items():
        if key.endswith(ext):
            return media
    return "application/octet-stream"


def signed_digest_message(renditions: Sequence[EncodedRendition]) -> bytes:
    """What the node signs for TranscodeData.sig (§6): keccak256(r1) ‖ keccak256(r2) ‖ …
    (signing hashes it once more: the digest is keccak256 of this)."""
    return b"".join(keccak256(r.data) for r in renditions)
