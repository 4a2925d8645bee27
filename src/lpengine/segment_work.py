"""Transcoding work of `Engine`: a gateway's segment in, its renditions out (protocol.md §4.2).

`accept_segment` runs the checks that need only the headers, `run_segment` transcodes in the
stream's session (queue, timeline), stores the renditions for /stream/, debits the encoded
pixels and signs the result; `transcode` is the same work without any server, for hosts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lpengine.config import EngineConfig
from lpengine.media.codecs import ProbeResult
from lpengine.media.profile import VideoProfile
from lpengine.media.session import OrchestratorBusy, TranscodeSessions
from lpengine.media.store import RenditionStore
from lpengine.media.transcode import Clip, TranscodeError, TranscodeResult, transcode_segment
from lpengine.paid_calls import PaidCalls
from lpengine.payment import Payment, SegmentCredentials
from lpengine.segment import (
    MISMATCHED_SEGMENTS,
    SegmentJob,
    SegmentResult,
    StoredRendition,
    rendition_key,
    rendition_url,
    signed_digest_message,
)
from lpengine.sessions import OrchestratorCapped

log = logging.getLogger("lpengine.engine")


class SegmentWork(PaidCalls):
    config: EngineConfig
    codecs: ProbeResult
    renditions: RenditionStore
    transcodes: TranscodeSessions

    def accept_segment(self, payment: Payment, creds: SegmentCredentials) -> SegmentJob:
        """POST /segment before its upload is read (protocol.md §4.2 steps 2-9): credentials,
        refreshed info, the payment into the balance of the session (`auth_token.session_id`),
        and with a price the balance check. Raises as `receive_payment`."""
        token = self.check_segment_credentials(creds, payment.sender)
        info = self._refreshed_info(payment, creds, token)
        self._take_payment(payment, token.session_id)
        self.check_balance(payment, token.session_id)
        return SegmentJob(creds, payment, token, info)

    def run_segment(self, job: SegmentJob, segment: bytes) -> SegmentResult:
        """POST /segment after its upload passed `job.check_body` (steps 14-15): transcodes,
        stores the renditions for /stream/, debits the encoded pixels, signs the result.

        Never raises for the segment: failures are the result's `error` (LPMS's text). Blocking
        and CPU-heavy, as `transcode`.
        """
        seq, session, creds = job.creds.seq, job.session_id, job.creds
        try:
            self.transcodes.prune(self.sessions.is_open)
            self.sessions.open(session)  # NOTE: a new session over the limit fails here (go)
            if creds.profiles_error:
                raise ValueError(creds.profiles_error)
            clip = Clip(creds.clip_from_ms, creds.clip_to_ms)
            stream = self.transcodes.get(session)
            out = stream.transcode(segment, job.profiles, clip=clip, reset=creds.force_reinit)
            if len(out.renditions) != len(job.profiles):
                raise TranscodeError(MISMATCHED_SEGMENTS, f"{len(out.renditions)} outputs")
        except (OrchestratorCapped, OrchestratorBusy, TranscodeError, ValueError) as err:
            why = err.describe() if isinstance(err, TranscodeError) else str(err)
            log.warning("segment %d of session %s not transcoded: %s", seq, session, why)
            self.metrics.inc("lpengine_segments_total", "Segments transcoded.", result="failed")
            return SegmentResult(seq, job.info, error=str(err))
        stored = []
        for profile, rendition in zip(job.profiles, out.renditions, strict=True):
            self.renditions.put(rendition_key(session, profile, seq), rendition.data)
            url = rendition_url(self.config.service_uri, session, profile, seq)
            stored.append(StoredRendition(url, rendition.pixels))
        self._debit(job.payment, session, out.encoded_pixels)
        self.sessions.open(session)  # its last use is now: idle time counts from here
        self.metrics.inc("lpengine_segments_total", "Segments transcoded.", result="ok")
        sig = self.sign(signed_digest_message(out.renditions))
        return SegmentResult(seq, job.info, tuple(stored), sig)

    def transcode(self, segment: bytes, profiles: Sequence[VideoProfile]) -> TranscodeResult:
        """One segment (MPEG-TS or MP4 bytes) to one rendition per profile, in their order.

        Blocking and CPU-heavy (decode, native resize, one encoder thread per rendition): call
        it from a worker thread (`run_in_threadpool`), never on an event loop. Raises ValueError
        naming the field for bad profiles, TranscodeError (LPMS's text) for a bad segment.
        """
        return transcode_segment(segment, profiles, encoders=self.codecs.encoders)
