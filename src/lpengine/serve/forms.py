"""Form values on the operator API, read as go's r.FormValue reads them."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


async def form(request: Request) -> dict[str, str]:
    """The query string, then a urlencoded body (which wins)."""
    values = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", "replace")
        values.update(parse_qsl(body, keep_blank_values=True))
    return values


def missing(values: dict[str, str], *names: str) -> Response | None:
    """go's 400 for absent values, or None when all are there."""
    absent = [n for n in names if not values.get(n)]
    return PlainTextResponse(f"missing form params: {', '.join(absent)}\n", 400) if absent else None
