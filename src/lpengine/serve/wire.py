"""Protobuf <-> the engine's plain dataclasses: the only place that knows both.

Decoders raise `WireError` with the text go-livepeer answers for the same input.
"""

from __future__ import annotations

import base64
import binascii

from google.protobuf.message import DecodeError

from lpengine.auth_token import AuthToken
from lpengine.capabilities import CapabilitySet, ModelConstraint
from lpengine.discovery import HardwareInfo, OrchestratorInfo, OrchestratorRequest
from lpengine.media.profile import (
    Chroma,
    Format,
    H264Profile,
    VideoCodec,
    VideoProfile,
    default_name,
    profile_id,
)
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.payment import (
    Payment,
    SegmentCredentials,
    TicketExpirationParams,
    TicketParams,
    TicketSenderParams,
)
from lpengine.pm.ticket import minimal_bytes
from lpengine.pricing import PriceInfo
from lpengine.segment import SegmentResult


class WireError(Exception):
    """Bytes that do not decode; the message is what the client is told."""


# --- decoding ------------------------------------------------------------------------------


def capabilities_from_pb(m: pb.Capabilities) -> CapabilitySet:
    return CapabilitySet(
        bitstring=tuple(m.bitstring),
        mandatories=tuple(m.mandatories),
        capacities=dict(m.capacities),
        version=m.version,
        min_version=m.constraints.minVersion,
        per_capability={
            cap: {
                model: ModelConstraint(c.warm, c.capacity, c.runnerVersion, c.capacityInUse)
                for model, c in constraints.models.items()
            }
            for cap, constraints in m.constraints.PerCapability.items()
        },
    )


def auth_token_from_pb(m: pb.AuthToken) -> AuthToken:
    return AuthToken(token=m.token, session_id=m.session_id, expiration=m.expiration)


def price_from_pb(m: pb.PriceInfo) -> PriceInfo:
    return PriceInfo(m.pricePerUnit, m.pixelsPerUnit, m.capability, m.constraint)


def orchestrator_request_from_pb(m: pb.OrchestratorRequest) -> OrchestratorRequest:
    return OrchestratorRequest(
        address=m.address,
        sig=m.sig,
        capabilities=capabilities_from_pb(m.capabilities) if m.HasField("capabilities") else None,
        ignore_capacity_check=m.ignoreCapacityCheck,
    )


def _big(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _expiration(m: pb.TicketExpirationParams) -> TicketExpirationParams:
    return TicketExpirationParams(m.creation_round, m.creation_round_block_hash)


def payment_from_pb(m: pb.Payment) -> Payment:
    tp = None
    if m.HasField("ticket_params"):
        t = m.ticket_params
        tp = TicketParams(
            recipient=t.recipient,
            face_value=_big(t.face_value),
            win_prob=_big(t.win_prob),
            recipient_rand_hash=t.recipient_rand_hash,
            seed=_big(t.seed),
            expiration_block=_big(t.expiration_block),
            expiration_params=_expiration(t.expiration_params)
            if t.HasField("expiration_params")
            else None,
        )
    return Payment(
        ticket_params=tp,
        sender=m.sender,
        expiration_params=_expiration(m.expiration_params)
        if m.HasField("expiration_params")
        else None,
        ticket_sender_params=tuple(
            TicketSenderParams(s.sender_nonce, s.sig) for s in m.ticket_sender_params
        ),
        expected_price=price_from_pb(m.expected_price) if m.HasField("expected_price") else None,
    )


def profile_name(p: pb.VideoProfile) -> str:
    """go's name for a profile: its own, else net_<w>x<h>_<bitrate>."""
    return p.name or default_name(p.width, p.height, p.bitrate)


def profile_ids(m: pb.SegData) -> bytes:
    """The 4-byte IDs of the output profiles (keccak256(name)[:4]) from the newest populated
    list, as go picks it (fullProfiles3 > 2 > 1 > the legacy `profiles` bytes)."""
    for profiles in (m.fullProfiles3, m.fullProfiles2, m.fullProfiles):
        if profiles:
            return b"".join(profile_id(profile_name(p)) for p in profiles)
    # NOTE: legacy bytes are IDs already; go reads whole 4-byte IDs only.
    return m.profiles[: len(m.profiles) // 4 * 4]


# NOTE: the wire's enums are open (proto3): any int can arrive; go refuses the unknown ones.
_WIRE_ENUMS: tuple[tuple[str, set[int], str], ...] = (
    ("format", set(Format), "unrecognized profile output format"),
    ("profile", set(H264Profile), "unrecognized encoder profile"),
    ("encoder", {int(c) for c in VideoCodec} - {VideoCodec.AV1.value}, "unrecognized video codec"),
    ("chromaFormat", set(Chroma), "unrecognized chroma format"),
)


def profile_from_pb(p: pb.VideoProfile) -> VideoProfile:
    """go's `makeFfmpegVideoProfiles`; raises WireError with go's text for unknown enums, and
    ValueError naming the profile and field for values no encoder takes."""
    for field, allowed, text in _WIRE_ENUMS:
        if getattr(p, field) not in allowed:
            raise WireError(text)
    try:
        return VideoProfile(
            name=profile_name(p),
            width=p.width,
            height=p.height,
            bitrate=p.bitrate,
            fps=p.fps,
            fps_den=p.fpsDen,
            gop_ms=p.gop,
            profile=H264Profile(p.profile),
            codec=VideoCodec(p.encoder),
            format=Format(p.format),
            color_depth=p.colorDepth or 8,
            chroma=Chroma(p.chromaFormat),
            quality=p.quality,
        )
    except ValueError as err:
        raise ValueError(f"profile {profile_name(p)!r}: {err}") from None


def segment_from_pb(m: pb.SegData) -> SegmentCredentials:
    # NOTE: as in go, sizes and rates are not the headers' business: a profile no encoder takes
    # fails the transcode (TranscodeResult.error), not the request.
    profiles: tuple[VideoProfile, ...] = ()
    profiles_error = ""
    try:
        profiles = tuple(
            profile_from_pb(p) for p in m.fullProfiles3 or m.fullProfiles2 or m.fullProfiles
        )
    except ValueError as err:
        profiles_error = str(err)
    return SegmentCredentials(
        manifest_id=m.manifestId,
        seq=m.seq,
        hash=m.hash,
        sig=m.sig,
        duration_ms=m.duration,
        capabilities=capabilities_from_pb(m.capabilities) if m.HasField("capabilities") else None,
        auth_token=auth_token_from_pb(m.auth_token) if m.HasField("auth_token") else None,
        calc_perceptual_hash=m.calc_perceptual_hash,
        profile_ids=profile_ids(m),
        profiles=profiles,
        profiles_error=profiles_error,
        clip_from_ms=getattr(m.segment_parameters, "from"),  # NOTE: a Python keyword
        clip_to_ms=m.segment_parameters.to,
        force_reinit=m.ForceSessionReinit,
    )


def _b64(header: str) -> bytes:
    # Standard alphabet with padding, as go's base64.StdEncoding; anything else is an error.
    return base64.b64decode(header.strip(), validate=True)


def decode_payment_header(header: str) -> Payment:
    """Livepeer-Payment; an empty value is an empty payment (the SDK sends one off-chain)."""
    try:
        raw = _b64(header)
    except (binascii.Error, ValueError) as err:
        raise WireError(f"base64 decode error: {err}") from None
    try:
        return payment_from_pb(pb.Payment.FromString(raw))
    except DecodeError as err:
        raise WireError(f"protobuf unmarshal error: {err}") from None


def decode_segment_header(header: str) -> SegmentCredentials:
    """Livepeer-Segment; go answers every decoding failure with ErrorSegEncoding, and profiles
    it cannot use with their own text."""
    try:
        m = pb.SegData.FromString(_b64(header))
    except (binascii.Error, ValueError, DecodeError):
        raise WireError("ErrorSegEncoding") from None
    return segment_from_pb(m)


# --- encoding ------------------------------------------------------------------------------


def capabilities_to_pb(c: CapabilitySet, m: pb.Capabilities) -> None:
    m.bitstring.extend(c.bitstring)
    m.mandatories.extend(c.mandatories)
    for cap, capacity in c.capacities.items():
        m.capacities[cap] = capacity
    m.version = c.version
    if c.min_version:
        m.constraints.minVersion = c.min_version
    for cap, models in c.per_capability.items():
        per_cap = m.constraints.PerCapability[cap]
        for model_id, mc in models.items():
            out = per_cap.models[model_id]
            out.warm = mc.warm
            out.capacity = mc.capacity
            out.runnerVersion = mc.runner_version
            out.capacityInUse = mc.capacity_in_use


def price_to_pb(p: PriceInfo, m: pb.PriceInfo) -> None:
    m.pricePerUnit = p.price_per_unit
    m.pixelsPerUnit = p.pixels_per_unit
    m.capability = p.capability
    m.constraint = p.constraint


def auth_token_to_pb(t: AuthToken, m: pb.AuthToken) -> None:
    m.token = t.token
    m.session_id = t.session_id
    m.expiration = t.expiration


def _hardware_to_pb(h: HardwareInfo, m: pb.HardwareInformation) -> None:
    m.pipeline = h.pipeline
    m.model_id = h.model_id
    for gpu in h.gpus:
        g = m.gpu_info[str(gpu.index)]
        g.id = gpu.uuid
        g.name = gpu.name
        g.major = gpu.major
        g.minor = gpu.minor
        g.memory_free = gpu.memory_free
        g.memory_total = gpu.memory_total


# The advertisement changes rarely and every quote carries it: keep the last one serialized.
_capabilities_cache: tuple[CapabilitySet, bytes] | None = None


def _capabilities_bytes(c: CapabilitySet) -> bytes:
    global _capabilities_cache
    cached = _capabilities_cache
    if cached is not None and cached[0] is c:  # NOTE: `is`: the registry hands out snapshots
        return cached[1]
    m = pb.Capabilities()
    capabilities_to_pb(c, m)
    data: bytes = m.SerializeToString()
    _capabilities_cache = (c, data)
    return data


def orchestrator_info_to_pb(info: OrchestratorInfo) -> pb.OrchestratorInfo:
    m = pb.OrchestratorInfo(transcoder=info.transcoder, address=info.address)
    m.capabilities.MergeFromString(_capabilities_bytes(info.capabilities))
    auth_token_to_pb(info.auth_token, m.auth_token)
    if info.price_info is not None:
        price_to_pb(info.price_info, m.price_info)
    for p in info.capabilities_prices:
        price_to_pb(p, m.capabilities_prices.add())
    for h in info.hardware:
        _hardware_to_pb(h, m.hardware.add())
    m.nodes.extend(info.nodes)
    if info.ticket_params is not None:
        ticket_params_to_pb(info.ticket_params, m.ticket_params)
    return m


def ticket_params_to_pb(p: TicketParams, m: pb.TicketParams) -> None:
    m.recipient = p.recipient
    m.face_value = minimal_bytes(p.face_value)
    m.win_prob = minimal_bytes(p.win_prob)
    m.recipient_rand_hash = p.recipient_rand_hash
    m.seed = minimal_bytes(p.seed)
    m.expiration_block = minimal_bytes(p.expiration_block)
    if p.expiration_params is not None:
        m.expiration_params.creation_round = p.expiration_params.creation_round
        m.expiration_params.creation_round_block_hash = (
            p.expiration_params.creation_round_block_hash
        )


def segment_result_to_pb(r: SegmentResult) -> pb.TranscodeResult:
    m = pb.TranscodeResult(seq=r.seq, info=orchestrator_info_to_pb(r.info))
    if r.error is not None:
        m.error = r.error
        return m
    m.data.sig = r.sig
    for rendition in r.renditions:
        m.data.segments.add(url=rendition.url, pixels=rendition.pixels)
    return m
