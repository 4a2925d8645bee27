"""A trickle client over HTTP (httpx, asyncio): a publisher and a subscriber that behave as the
livepeer-gateway SDK and ai-runner do (protocol.md §4.7), for runners and for tests.

    async with httpx.AsyncClient(verify=False, timeout=None) as http:
        pub = TricklePublisher(http, "https://o:8935/ai/trickle/abc")
        await pub.write(b"...")                 # one segment; the first carries Lp-Trickle-Reset
        async with pub.segment() as seg:        # or stream one as it is produced
            await seg.write(b"..."); await seg.write(b"...")
        await pub.close()                       # DELETE: the channel ends for every subscriber
        sub = TrickleSubscriber(http, "https://o:8935/ai/trickle/abc-out")
        while (data := await sub.read()) is not None: ...
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType

import httpx

SEQ = "Lp-Trickle-Seq"
LATEST = "Lp-Trickle-Latest"
CLOSED = "Lp-Trickle-Closed"
RETRY_WAIT_S = 0.5
MAX_RETRIES = 5


class TrickleError(Exception):
    """A request the server refused; `status` is its HTTP status (404: the channel is gone)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SegmentUpload:
    """One segment being POSTed: `write` chunks, then leave the `async with` (or `close`)."""

    def __init__(self, http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=16)
        self._task = asyncio.ensure_future(http.post(url, content=self._body(), headers=headers))

    async def _body(self) -> AsyncIterator[bytes]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk

    async def write(self, data: bytes) -> None:
        if self._task.done():  # refused early (404): say so now
            await self.close()
        await self._queue.put(data)

    async def close(self) -> httpx.Response:
        if not self._task.done():
            await self._queue.put(None)
        response = await self._task
        if response.status_code != 200:
            raise TrickleError(
                f"trickle POST {response.url} failed: {response.status_code} "
                f"{response.text.strip()!r}",
                response.status_code,
            )
        return response

    async def __aenter__(self) -> SegmentUpload:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.close()
        else:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self._task


class TricklePublisher:
    """Publishes segments to one channel at `url` (…/ai/trickle/<name>), numbered from the
    channel's `next`."""

    def __init__(self, http: httpx.AsyncClient, url: str, mime_type: str = "video/mp2t") -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.mime_type = mime_type
        self.seq: int | None = None

    async def _start(self) -> dict[str, str]:
        headers = {"Content-Type": self.mime_type}
        if self.seq is None:
            r = await self.http.get(f"{self.url}/next")
            if r.status_code == 404:
                raise TrickleError(f"trickle channel {self.url} not found", 404)
            latest = r.headers.get(LATEST)
            self.seq = int(latest) if latest is not None else -1
            headers["Lp-Trickle-Reset"] = "1"
        return headers

    async def segment(self) -> SegmentUpload:
        """Starts the next segment's POST; its bytes are relayed to subscribers as written."""
        headers = await self._start()
        assert self.seq is not None
        upload = SegmentUpload(self.http, f"{self.url}/{self.seq}", headers)
        self.seq = self.seq + 1 if self.seq >= 0 else 0
        return upload

    async def write(self, data: bytes) -> int:
        """One whole segment; returns the index the server stored it under."""
        headers = await self._start()
        assert self.seq is not None
        r = await self.http.post(f"{self.url}/{self.seq}", content=data, headers=headers)
        if r.status_code != 200:
            raise TrickleError(
                f"trickle POST {r.url} failed: {r.status_code} {r.text.strip()!r}", r.status_code
            )
        seq = int(r.headers[SEQ])
        self.seq = seq + 1
        return seq

    async def close(self) -> None:
        """DELETEs the channel; one that is already gone is fine."""
        await self.http.delete(self.url)


class TrickleSubscriber:
    """Reads a channel segment by segment from `start` (-2: the newest, -1: the next)."""

    def __init__(self, http: httpx.AsyncClient, url: str, start: int = -2) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.seq = start
        self.ended = False

    @contextlib.asynccontextmanager
    async def next(self) -> AsyncIterator[httpx.Response | None]:
        """The next segment's streamed response (`aiter_bytes()`; `headers[SEQ]` its index), or
        None at the end of the channel (404, or `Lp-Trickle-Closed`)."""
        failures = 0
        while not self.ended:
            request = self.http.build_request("GET", f"{self.url}/{self.seq}")
            try:
                r = await self.http.send(request, stream=True)
            except httpx.TransportError:
                failures += 1
                if failures > MAX_RETRIES:
                    raise
                await asyncio.sleep(RETRY_WAIT_S)
                continue
            try:
                if r.status_code == 404:
                    self.ended = True
                elif r.status_code == 470:
                    latest = int(r.headers.get(LATEST, "-1"))
                    if latest < self.seq:
                        await asyncio.sleep(0.25)
                    self.seq = max(latest, 0)
                    continue
                elif r.status_code != 200:
                    failures += 1
                    if failures > MAX_RETRIES:
                        raise TrickleError(f"trickle GET {r.url}: {r.status_code}", r.status_code)
                    await asyncio.sleep(RETRY_WAIT_S)
                    continue
                elif CLOSED in r.headers:
                    self.ended = True
                else:
                    self.seq = int(r.headers[SEQ]) + 1
                    yield r
                    return
            finally:
                await r.aclose()
        yield None

    async def read(self) -> bytes | None:
        """The next whole segment (possibly empty), or None at the end of the channel."""
        async with self.next() as r:
            if r is None:
                return None
            return b"".join([c async for c in r.aiter_bytes()])
