"""Dynamic batching vs one request at a time (ai-runner's behaviour), over HTTP, in one run.

python -m bench.pipelines.bench_batching [--smoke] [--iterations N] [--concurrency C]

One `python -m lpengine.serve` (off-chain, plaintext `-httpAddr` so TLS is not measured)
serves the tiny text-to-image model (`lpengine.testing`) under two model ids: one with
`max_batch_size` 1, one with `max_batch_size` = C and `max_wait_ms` 10. C clients, each with its
own keep-alive connection and real payment headers (an auth token from GetOrchestrator), post
`/text-to-image` at 64x64 together; rounds of the two models alternate so that drift on the
machine weighs on both. Printed: requests/s of each and `speedup_vs_unbatched`; the server
overhead per request = response time - the queue and model time the server reports in its
`Server-Timing` header, p50/p99, at concurrency C (batched) and 1 (one request alone); the
load average before and after, since these numbers mean little on a busy machine.
Targets (issue 7): >= 3x at concurrency 16; overhead p50 <= 3 ms.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import grpc

from bench.harness import args, check, emit, machine
from bench.serve.server import BenchServer
from lpengine.ai.model_dir import snapshot_dir
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.testing import TINY_MODELS, link_model, write_tiny_models

SD = TINY_MODELS["text-to-image"]
BATCHED = SD + "-batched"  # the same files under a second id, batched
WAIT_MS = 10
TARGET_SPEEDUP, TARGET_OVERHEAD_MS = 3.0, 3.0
TIMING = re.compile(r"(\w+);dur=([0-9.]+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _segment_header(server: BenchServer) -> str:
    """Livepeer-Segment with a fresh auth token (off-chain its signature is not checked)."""
    credentials = grpc.ssl_channel_credentials(root_certificates=server.pem)
    target = f"127.0.0.1:{server.port}"
    override = [("grpc.ssl_target_name_override", "127.0.0.1")]
    with grpc.secure_channel(target, credentials, options=override) as channel:
        call = channel.unary_unary(
            "/net.Orchestrator/GetOrchestrator",
            request_serializer=pb.OrchestratorRequest.SerializeToString,
            response_deserializer=pb.OrchestratorInfo.FromString,
        )
        info = call(pb.OrchestratorRequest(), timeout=30)
    seg = pb.SegData(manifestId=b"bench-batching", auth_token=info.auth_token)
    return base64.b64encode(seg.SerializeToString()).decode()


class Client:
    """One gateway connection: posts one request, keeps (response ms, overhead ms).

    NOTE: the standard library's HTTP client, not httpx: httpx spent about 0.5 ms more per
    request in this process, which is the client's time, not the server's (gateways are Go)."""

    def __init__(self, url: str, segment: str, model_id: str, steps: int, seed: int) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.http = http.client.HTTPConnection(host, int(port), timeout=300)
        self.headers = {"Livepeer-Segment": segment, "Content-Type": "application/json"}
        body = {"model_id": model_id, "prompt": "a red cat", "width": 64, "height": 64,
                "num_inference_steps": steps, "seed": seed}  # fmt: skip
        self.body = json.dumps(body).encode()
        self.samples: list[tuple[float, float]] = []
        self.error = ""

    def post(self) -> None:
        start = time.perf_counter()
        self.http.request("POST", "/text-to-image", self.body, self.headers)
        r = self.http.getresponse()
        data = r.read()
        response_ms = (time.perf_counter() - start) * 1e3
        if r.status != 200 or len(json.loads(data)["images"]) != 1:
            self.error = f"{r.status} {data[:200]!r}"
            return
        timing = {k: float(v) for k, v in TIMING.findall(r.getheader("server-timing", ""))}
        self.samples.append((response_ms, response_ms - timing["queue"] - timing["model"]))


def _round(clients: list[Client]) -> float:
    """All clients post at once; the round's wall time in seconds."""
    start_line = threading.Barrier(len(clients) + 1)

    def go(c: Client) -> None:
        start_line.wait()
        c.post()

    threads = [threading.Thread(target=go, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    start_line.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall_s = time.perf_counter() - start
    errors = [c.error for c in clients if c.error]
    check(not errors, f"{len(errors)} request(s) failed: {errors[:1]}")
    return wall_s


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _overheads(clients: list[Client]) -> list[float]:
    return [over for c in clients for _, over in c.samples]


def main() -> None:
    p_args = args(__doc__ or "")
    smoke = p_args.smoke
    concurrency = 4 if smoke else 16
    rounds = 1 if smoke else max(p_args.iterations // 10, 2)  # default 5 rounds per mode
    steps = 1 if smoke else 4
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="lpengine-bench-models-") as tmp:
        root = Path(tmp)
        write_tiny_models(root)
        link_model(root, BATCHED, snapshot_dir(root, SD))
        batching = {"max_batch_size": concurrency, "max_wait_ms": WAIT_MS}
        models = [
            {"pipeline": "text-to-image", "model_id": SD, "warm": True, "capacity": concurrency},
            {"pipeline": "text-to-image", "model_id": BATCHED, "warm": True,
             "capacity": concurrency, "optimization_flags": batching},
        ]  # fmt: skip
        plain = f"http://127.0.0.1:{_free_port()}"
        ai = ("-aiModelsDir", str(root), "-aiModels", json.dumps(models))
        with BenchServer("-httpAddr", plain, *ai) as server:
            segment = _segment_header(server)
            modes = {
                name: [Client(plain, segment, model, steps, 1000 + i) for i in range(concurrency)]
                for name, model in (("unbatched", SD), ("batched", BATCHED))
            }
            for clients in modes.values():  # warm-up: connections, and the batch's shapes
                _round(clients)
                for c in clients:
                    c.samples.clear()
            wall_s = {name: 0.0 for name in modes}
            for _ in range(rounds):
                for name, clients in modes.items():
                    wall_s[name] += _round(clients)
            alone = modes["unbatched"][0]
            batched_over = _overheads(modes["batched"])
            alone.samples.clear()
            for _ in range(max(rounds * 4, 3)):  # one request at a time: no queueing at all
                alone.post()
            check(not alone.error, f"a request failed: {alone.error}")
            alone_over = [over for _, over in alone.samples]
            response_ms = {n: statistics.median(r for c in cs for r, _ in c.samples)
                           for n, cs in modes.items()}  # fmt: skip
    per_s = {name: rounds * concurrency / s for name, s in wall_s.items()}
    emit({
        "bench": "ai_batching", "case": "text-to-image 64x64 over HTTP/1.1",
        "machine": machine(), "model": SD, "size": "64x64", "steps": steps,
        "concurrency": concurrency, "rounds": rounds, "max_wait_ms": WAIT_MS,
        "unbatched_req_per_s": round(per_s["unbatched"], 2),
        "batched_req_per_s": round(per_s["batched"], 2),
        "unbatched_response_ms_p50": round(response_ms["unbatched"], 1),
        "batched_response_ms_p50": round(response_ms["batched"], 1),
        "overhead_ms_p50": round(statistics.median(batched_over), 3),
        "overhead_ms_p99": round(_percentile(batched_over, 0.99), 3),
        "overhead_alone_ms_p50": round(statistics.median(alone_over), 3),
        "overhead_alone_ms_p99": round(_percentile(alone_over, 0.99), 3),
        "target_speedup": TARGET_SPEEDUP, "target_overhead_ms_p50": TARGET_OVERHEAD_MS,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "speedup_vs_unbatched": round(wall_s["unbatched"] / wall_s["batched"], 3),
    })  # fmt: skip


if __name__ == "__main__":
    main()
