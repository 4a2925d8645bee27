"""JSON-RPC over several endpoints: a web3 provider that fails over between URLs.

Each request goes to the endpoint that last answered; a connection error, a timeout or an HTTP
error marks that endpoint down for `retry_after_s` and the request moves to the next one (JSON-RPC
error answers, such as a revert, are answers: no failover). When every endpoint is down the
request fails with `RpcUnavailable`, naming each endpoint's last error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from web3 import HTTPProvider, Web3
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from lpengine.pm.chainview import ChainError

log = logging.getLogger(__name__)

RPC_TIMEOUT_S = 20.0
"""go's ETH RPC timeout (protocol.md §9)."""
RETRY_AFTER_S = 5.0


class RpcUnavailable(ChainError):
    """No endpoint answered."""


def redact(url: str) -> str:
    """scheme://host:port of `url`: paths and queries often carry API keys."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def parse_urls(value: str | Sequence[str]) -> tuple[str, ...]:
    """One URL or several, comma-separated; each http(s)://host[:port][/path]."""
    urls = [u.strip() for u in value.split(",")] if isinstance(value, str) else list(value)
    urls = [u for u in urls if u]
    if not urls:
        raise ValueError("ethUrl: expected at least one http(s):// JSON-RPC URL")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"ethUrl: expected an http(s):// JSON-RPC URL, got {url!r}")
    return tuple(urls)


class FailoverProvider(JSONBaseProvider):
    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        timeout_s: float = RPC_TIMEOUT_S,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.urls = parse_urls(urls)
        if timeout_s <= 0:
            raise ValueError(f"timeout_s: expected > 0, got {timeout_s}")
        self._endpoints = [
            HTTPProvider(
                u, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None
            )
            for u in self.urls
        ]
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._current = 0
        self._down_until = [0.0] * len(self.urls)
        self._errors: list[str | None] = [None] * len(self.urls)

    @property
    def current_url(self) -> str:
        return self.urls[self._current]

    def _order(self) -> list[int]:
        """The current endpoint first, then the others; those marked down go last."""
        now = self._clock()
        with self._lock:
            n = len(self.urls)
            ring = [(self._current + i) % n for i in range(n)]
            return sorted(ring, key=lambda i: self._down_until[i] > now)

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        for i in self._order():
            try:
                response = self._endpoints[i].make_request(method, params)
            except (requests.RequestException, OSError) as err:
                self._mark_down(i, f"{type(err).__name__}: {err}")
                continue
            with self._lock:
                if self._current != i:
                    log.warning("ethUrl: now using %s", redact(self.urls[i]))
                self._current = i
                self._errors[i] = None
            return response
        raise RpcUnavailable("no Ethereum RPC endpoint answered: " + self.describe_errors())

    def _mark_down(self, i: int, error: str) -> None:
        with self._lock:
            self._down_until[i] = self._clock() + self._retry_after_s
            self._errors[i] = error
        log.warning("ethUrl %s failed (%s)", redact(self.urls[i]), error)

    def describe_errors(self) -> str:
        with self._lock:
            return "; ".join(
                f"{redact(u)}: {e or 'ok'}" for u, e in zip(self.urls, self._errors, strict=True)
            )

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            self.make_request(RPCEndpoint("web3_clientVersion"), [])
        except RpcUnavailable:
            return False
        return True


def connect(urls: str | Sequence[str], *, timeout_s: float = RPC_TIMEOUT_S) -> Web3:
    """A Web3 over `urls` with failover."""
    return Web3(FailoverProvider(urls, timeout_s=timeout_s))
