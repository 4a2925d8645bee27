"""What the live tests do as a gateway: start a job, publish a clip in real time over trickle,
read the output, control and events channels (lpengine's own trickle client, over HTTPS)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx

from lpengine.live.trickle_client import TricklePublisher, TrickleSubscriber
from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess, unary


def auth_token(server: ServerProcess) -> pb.AuthToken:
    with server.grpc_channel() as channel:
        info = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(
            pb.OrchestratorRequest(), timeout=30
        )
    return info.auth_token


def headers(server: ServerProcess, token: pb.AuthToken | None = None) -> dict[str, str]:
    seg = pb.SegData()
    seg.auth_token.CopyFrom(token or auth_token(server))
    return {
        "Livepeer-Payment": "",
        "Livepeer-Segment": base64.b64encode(seg.SerializeToString()).decode(),
    }


def start(server: ServerProcess, body: Any, hdrs: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{server.url}/live-video-to-video",
        json=body,
        headers=hdrs if hdrs is not None else headers(server),
        verify=False,
        timeout=15,  # NOTE: the SDK allows 5 s; more here for a loaded test machine
    )


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=False, timeout=httpx.Timeout(30.0))


async def publish(
    http: httpx.AsyncClient, url: str, segments: list[list[tuple[float, bytes]]]
) -> None:
    """Streams each segment's bytes when their media time comes (as a live encoder would)."""
    pub = TricklePublisher(http, url)
    t0 = time.monotonic()
    for seg in segments:
        async with await pub.segment() as upload:
            for t, data in seg:
                await asyncio.sleep(max(0.0, t0 + t - time.monotonic()))
                await upload.write(data)


async def read_channel(http: httpx.AsyncClient, url: str, start: int = 0) -> bytes:
    """Every segment of a channel from `start`, joined, until the channel ends."""
    sub = TrickleSubscriber(http, url, start=start)
    out = []
    while (data := await sub.read()) is not None:
        out.append(data)
    return b"".join(out)


async def read_events(http: httpx.AsyncClient, url: str, into: list[dict[str, Any]]) -> None:
    sub = TrickleSubscriber(http, url, start=0)
    while (data := await sub.read()) is not None:
        if data.strip():
            into.append(json.loads(data))
