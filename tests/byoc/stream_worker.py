"""A BYOC stream worker for the tests: a real HTTP server process that reads its input channel
over trickle and writes what it processed to `-out` (protocol.md §4.8).

python tests/byoc/stream_worker.py PORT

POST /stream/start (the orchestrator's JSON: gateway_request_id, subscribe_url, publish_url,
control_url, events_url, data_url, and the gateway's fields): each input segment comes back on
`publish_url` as `<prefix><segment>` (prefix from `params.prefix`, updated by /stream/params or a
control message) and as a JSON line `{"seq", "bytes"}` on `data_url`; every control message is
echoed on `events_url` as `{"type": "control", "params": …}`. `params.fail = <status>` refuses
to start with that status. POST /stream/params and /stream/stop (header `X-Stream-Id`);
GET /streams: what each stream got (params, control messages, segments, stop calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

READY = "echo worker listening"  # what WorkerProcess waits for


@dataclass
class Stream:
    id: str
    urls: dict[str, str]
    params: dict[str, Any]
    headers: dict[str, str]
    control: list[Any] = field(default_factory=list)
    segments: int = 0
    stop_calls: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    events_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _app():  # type: ignore[no-untyped-def]
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from lpengine.live.trickle_client import TricklePublisher, TrickleSubscriber

    streams: dict[str, Stream] = {}
    http = httpx.AsyncClient(verify=False, timeout=None)

    async def event(s: Stream, publisher: TricklePublisher | None, doc: dict[str, Any]) -> None:
        if publisher is not None:
            async with s.events_lock:
                await publisher.write(json.dumps(doc).encode())

    async def pump(s: Stream) -> None:
        """Input segments -> prefix + segment on -out, a JSON line on -data."""
        sub = TrickleSubscriber(http, s.urls["subscribe_url"])
        out = TricklePublisher(http, s.urls["publish_url"]) if "publish_url" in s.urls else None
        data = (
            TricklePublisher(http, s.urls["data_url"], "application/jsonl")
            if "data_url" in s.urls
            else None
        )
        while (segment := await sub.read()) is not None:
            if not segment:
                continue
            # NOTE: counted when read: a stop may cancel the writes below once the gateway has
            # seen -out, which is when the test stops the stream
            seq, s.segments = s.segments, s.segments + 1
            prefix = str(s.params.get("prefix", "")).encode()
            if out is not None:
                await out.write(prefix + segment)
            if data is not None:
                line = json.dumps({"seq": seq, "bytes": len(segment)}) + "\n"
                await data.write(line.encode())

    async def control(s: Stream, events: TricklePublisher | None) -> None:
        sub = TrickleSubscriber(http, s.urls["control_url"], start=-1)
        while (message := await sub.read()) is not None:
            if not message:
                continue
            doc = json.loads(message)
            s.control.append(doc)
            s.params.update(doc)
            await event(s, events, {"type": "control", "params": doc})

    async def run(s: Stream) -> None:
        events = TricklePublisher(http, s.urls["events_url"], "application/json")
        await event(s, events, {"type": "worker_started", "stream_id": s.id})
        tasks = [control(s, events)]
        if "subscribe_url" in s.urls:
            tasks.append(pump(s))
        with contextlib.suppress(Exception):  # the channels closed under us: the stream ended
            await asyncio.gather(*tasks)

    async def start(request: Request) -> Response:
        doc = await request.json()
        params = doc.get("params") or {}
        if "fail" in params:
            return PlainTextResponse("worker refuses to start", status_code=int(params["fail"]))
        sid = doc["gateway_request_id"]
        urls = {k: v for k, v in doc.items() if k.endswith("_url")}
        s = streams[sid] = Stream(sid, urls, dict(params), dict(request.headers))
        s.tasks.append(asyncio.get_running_loop().create_task(run(s)))
        return JSONResponse({"started": sid})

    async def params(request: Request) -> Response:
        s = streams.get(request.headers.get("x-stream-id", ""))
        if s is None:
            return PlainTextResponse("no such stream", status_code=404)
        s.params.update(await request.json())
        return JSONResponse({"params": s.params})

    async def stop(request: Request) -> Response:
        s = streams.get(request.headers.get("x-stream-id", ""))
        if s is None:
            return PlainTextResponse("no such stream", status_code=404)
        s.stop_calls += 1
        for task in s.tasks:
            task.cancel()
        return JSONResponse({"stopped": s.id})

    async def state(_: Request) -> Response:
        return JSONResponse(
            {
                sid: {
                    "params": s.params,
                    "control": s.control,
                    "segments": s.segments,
                    "stop_calls": s.stop_calls,
                    "urls": s.urls,
                    "authorization": s.headers.get("authorization"),
                }
                for sid, s in streams.items()
            }
        )

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/streams", state, methods=["GET"]),
            Route("/stream/start", start, methods=["POST"]),
            Route("/stream/params", params, methods=["POST"]),
            Route("/stream/stop", stop, methods=["POST"]),
        ]
    )


def main() -> None:
    port = int(sys.argv[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    print(READY, flush=True)
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    stop = asyncio.Event()

    async def run() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await serve(_app(), config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(run())


if __name__ == "__main__":
    main()
