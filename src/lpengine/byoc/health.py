"""Active health checks of BYOC workers, better than go-livepeer's.

go drops a capability on the first connection error and waits for the worker to register
again. Here a thread probes every HTTP worker each `interval_s`: `GET <url>/health` (an answer
under 500 is healthy: a worker without that route still answers), and when no HTTP answer comes
(a single-threaded worker busy with a job, a server that is not HTTP) a TCP connect. A worker
that fails is advertised with capacity 0 and comes back by itself once a probe passes.
"""

from __future__ import annotations

import logging
import socket
import threading
from urllib.parse import urlsplit

import httpx

from lpengine.byoc.table import CapabilityTable

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0


def connect(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when something accepts TCP connections at `url`'s host and port, else why not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        return f"cannot resolve {host}: {err.strerror or err}"
    last = "no address"
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as s:
                s.settimeout(timeout_s)
                s.connect(address)
                return None
        except OSError as err:
            last = f"cannot connect to {host}:{port}: {err.strerror or err}"
    return last


def probe(client: httpx.Client, url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the worker at `url` is healthy, else why not."""
    try:
        response = client.get(url + "/health", timeout=timeout_s)
    except httpx.HTTPError:
        return connect(url, timeout_s)
    if response.status_code >= 500:
        return f"GET /health answered {response.status_code}"
    return None


class HealthChecker:
    """Probes every HTTP worker of `table` on an interval, in one daemon thread."""

    def __init__(self, table: CapabilityTable, interval_s: float) -> None:
        self.table = table
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Starts the thread once (on the first HTTP registration)."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="lpengine-byoc-health", daemon=True
                )
                self._thread.start()

    def check_soon(self) -> None:
        """Probes now rather than at the next interval (after a job saw the worker fail)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def check_all(self, client: httpx.Client) -> None:
        for entry in self.table.entries():
            url = entry.registration.url
            if not url or self._stop.is_set():
                continue
            self.table.set_health(entry, probe(client, url))

    def _run(self) -> None:
        # NOTE: Connection: close, so a probe never holds a single-threaded worker's only slot.
        with httpx.Client(headers={"Connection": "close"}, trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    self.check_all(client)
                except Exception:  # the next round tries again; a dead checker helps nobody
                    log.exception("BYOC health check failed")
                self._wake.wait(self.interval_s)
                self._wake.clear()
