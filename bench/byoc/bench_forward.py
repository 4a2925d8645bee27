"""BYOC forwarding overhead: a job through lpengine vs the same request straight to the worker.

python -m bench.byoc.bench_forward [--smoke] [--iterations N]

One echo worker process and one `python -m lpengine.serve` process (off-chain, plaintext
-httpAddr listener, so TLS is not part of the overhead); one keep-alive HTTP/1.1 client calls
`POST /process/request/echo` on lpengine and `POST /echo` on the worker, interleaved, for a
small JSON body and a 1 MiB body. Printed per case: p50 of each path, the overhead per request
(p50 through lpengine - p50 direct), and `speedup_vs_direct` = p50 direct / p50 through lpengine
(below 1: the price of the extra hop).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys

import httpx

from bench.byoc.worker import READY
from bench.harness import args, check, compare_ms, emit, machine
from bench.serve.server import BenchServer

SECRET = "bench-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _header() -> str:
    doc = {"id": "bench", "request": "{}", "capability": "echo", "timeout_seconds": 30}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def main() -> None:
    a = args(__doc__ or "")
    iterations = 3 if a.smoke else max(a.iterations, 1) * 4  # default 200 per path and case
    worker_port, plain_port = _free_port(), _free_port()
    worker = subprocess.Popen(
        [sys.executable, "-m", "bench.byoc.worker", str(worker_port)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert worker.stdout is not None
        check(READY in worker.stdout.readline(), "the bench worker did not start")
        with BenchServer("-orchSecret", SECRET, "-httpAddr", f"http://127.0.0.1:{plain_port}"):
            worker_url = f"http://127.0.0.1:{worker_port}"
            doc = {"name": "echo", "url": worker_url, "capacity": 64}
            with httpx.Client(timeout=30) as client:
                r = client.post(
                    f"http://127.0.0.1:{plain_port}/capability/register",
                    content=json.dumps(doc),
                    headers={"Authorization": SECRET},
                )
                check(r.text == "ok", f"registration failed: {r.status_code} {r.text}")
                run(client, worker_url, f"http://127.0.0.1:{plain_port}", iterations)
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        if worker.stdout is not None:
            worker.stdout.close()


def run(client: httpx.Client, worker_url: str, lpengine_url: str, iterations: int) -> None:
    info = machine()
    headers = {"Content-Type": "application/json", "Livepeer": _header()}
    for case, body in (
        ("64 B JSON", json.dumps({"prompt": "a" * 48}).encode()),
        ("1 MiB body", b"z" * (1 << 20)),
    ):

        def direct(body: bytes = body) -> None:
            r = client.post(f"{worker_url}/echo", content=body, headers=headers)
            check(r.status_code == 200 and r.content == body, f"direct: {r.status_code}")

        def through(body: bytes = body) -> None:
            r = client.post(f"{lpengine_url}/process/request/echo", content=body, headers=headers)
            check(
                r.status_code == 200 and r.content == body,
                f"lpengine: {r.status_code} {r.text[:200]}",
            )

        p50 = compare_ms({"direct": direct, "lpengine": through}, iterations)
        emit(
            {
                "bench": "byoc_forward",
                "case": f"POST /process/request/echo, {case}, HTTP/1.1 keep-alive, concurrency 1",
                "machine": info,
                "iterations": iterations,
                "body_bytes": len(body),
                "p50_direct_ms": round(p50["direct"], 3),
                "p50_lpengine_ms": round(p50["lpengine"], 3),
                "overhead_p50_ms": round(p50["lpengine"] - p50["direct"], 3),
                "speedup_vs_direct": round(p50["direct"] / p50["lpengine"], 3),
            }
        )


if __name__ == "__main__":
    main()
