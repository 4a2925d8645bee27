"""The service ASGI application: gRPC and HTTP on one port, routed as go-livepeer routes them.

HTTP/2 with `content-type: application/grpc*` goes to the gRPC methods; everything else
(HTTP/1.1, or HTTP/2 without that content type) goes to the HTTP routes.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from lpengine.engine import Engine
from lpengine.serve import orchestrator_rpc, trickle_route
from lpengine.serve.ai_routes import ai_routes
from lpengine.serve.byoc_routes import routes as byoc_routes
from lpengine.serve.byoc_routes import stream_routes as byoc_stream_routes
from lpengine.serve.drain import DrainRequestBody
from lpengine.serve.grpc import Code, GrpcApp, is_grpc
from lpengine.serve.live_route import live_endpoint
from lpengine.serve.payment_route import payment_endpoint
from lpengine.serve.segment_route import segment_endpoint, stream_endpoint


class ServiceApp:
    """The ASGI app on the service port (TLS, and the optional plaintext -httpAddr)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.grpc = GrpcApp(orchestrator_rpc.methods(engine), on_done=self._count)
        # gRPC reads whole bodies before answering; HTTP routes may answer early (see drain.py).
        self.http = DrainRequestBody(http_routes(engine))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_grpc(scope):
            await self.grpc(scope, receive, send)
        else:
            await self.http(scope, receive, send)

    def _count(self, path: str, code: Code, seconds: float) -> None:
        del seconds
        self.engine.metrics.inc(
            "lpengine_grpc_requests_total",
            "gRPC calls served, by method and status.",
            method=path,
            code=code.name,
        )


def http_routes(engine: Engine) -> Starlette:
    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/payment", payment_endpoint(engine), methods=["POST"]),
            Route("/segment", segment_endpoint(engine), methods=["POST"]),
            Route("/stream/{key:path}", stream_endpoint(engine), methods=["GET"]),
            *ai_routes(engine),
            *byoc_routes(engine.byoc),
            *byoc_stream_routes(engine.byoc_streams),
            Route("/live-video-to-video", live_endpoint(engine), methods=["POST"]),
            *trickle_route.routes(engine.trickle),
        ]
    )


def build_app(engine: Engine) -> ServiceApp:
    return ServiceApp(engine)
