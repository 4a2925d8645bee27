"""The `net.Orchestrator` gRPC service: decode, call the engine, encode.

Errors go back as go-livepeer sends them: a plain error, i.e. status UNKNOWN with the error text
as the message (protocol.md §1.4).
"""

from __future__ import annotations

from lpengine.auth_token import AuthTokenError
from lpengine.discovery import DiscoveryError
from lpengine.engine import Engine
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.serve import wire
from lpengine.serve.grpc import Code, RpcError, Unary

SERVICE = "/net.Orchestrator"


def methods(engine: Engine) -> dict[str, Unary]:
    def get_orchestrator(request: pb.OrchestratorRequest) -> pb.OrchestratorInfo:
        try:
            info = engine.get_orchestrator(wire.orchestrator_request_from_pb(request))
        except DiscoveryError as err:
            raise RpcError(Code.UNKNOWN, str(err)) from None
        return wire.orchestrator_info_to_pb(info)

    def ping(request: pb.PingPong) -> pb.PingPong:
        return pb.PingPong(value=engine.ping(request.value))

    def end_transcoding_session(
        request: pb.EndTranscodingSessionRequest,
    ) -> pb.EndTranscodingSessionResponse:
        token = (
            wire.auth_token_from_pb(request.auth_token) if request.HasField("auth_token") else None
        )
        try:
            engine.end_transcoding_session(token)
        except AuthTokenError as err:
            raise RpcError(Code.UNKNOWN, str(err)) from None
        return pb.EndTranscodingSessionResponse()

    return {
        f"{SERVICE}/GetOrchestrator": Unary(pb.OrchestratorRequest, get_orchestrator),
        f"{SERVICE}/Ping": Unary(pb.PingPong, ping),
        f"{SERVICE}/EndTranscodingSession": Unary(
            pb.EndTranscodingSessionRequest, end_transcoding_session
        ),
    }
