"""Request bodies read whole, with a bound: every HTTP route that buffers its body uses this."""

from __future__ import annotations

from starlette.requests import Request


async def read_at_most(request: Request, max_bytes: int) -> bytes | None:
    """The body, whole; None once it passes `max_bytes` (the rest is left unread)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
