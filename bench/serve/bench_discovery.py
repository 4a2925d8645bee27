"""GetOrchestrator over gRPC + TLS: calls/s and latency percentiles at concurrency 1 and 16.

python -m bench.serve.bench_discovery [--smoke] [--iterations N]

Clients are grpcio channels that trust the server's certificate, as gateways do; each of the
`concurrency` clients has its own channel (its own HTTP/2 connection) and keeps one call in
flight. The only published bound is go-livepeer's 8 s client deadline for the call, so the ratio
printed is that deadline over the measured p99 (`speedup_vs_go_deadline`, the headroom). The
target is p50 <= 2 ms at concurrency 1.
"""

from __future__ import annotations

import statistics
import threading
import time

import grpc

from bench.harness import args, check, emit, machine
from bench.serve.server import BenchServer
from lpengine.net import lp_rpc_pb2 as pb

GO_CLIENT_DEADLINE_MS = 8000.0
TARGET_P50_MS = 2.0
WARMUP_CALLS = 50


def _client(server: BenchServer) -> grpc.UnaryUnaryMultiCallable:
    credentials = grpc.ssl_channel_credentials(root_certificates=server.pem)
    channel = grpc.secure_channel(
        f"127.0.0.1:{server.port}",
        credentials,
        options=[("grpc.ssl_target_name_override", "127.0.0.1")],
    )
    return channel.unary_unary(
        "/net.Orchestrator/GetOrchestrator",
        request_serializer=pb.OrchestratorRequest.SerializeToString,
        response_deserializer=pb.OrchestratorInfo.FromString,
    )


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(server: BenchServer, concurrency: int, calls_each: int, warmup: int) -> dict[str, float]:
    request = pb.OrchestratorRequest(ignoreCapacityCheck=True)
    clients = [_client(server) for _ in range(concurrency)]
    for call in clients:  # connect and warm up every channel before timing
        for _ in range(warmup):
            call(request, timeout=8)
    latencies: list[list[float]] = [[] for _ in clients]
    replies: list[pb.OrchestratorInfo] = []
    errors: list[BaseException] = []
    start_line = threading.Barrier(concurrency + 1)

    def worker(i: int) -> None:
        call, mine = clients[i], latencies[i]
        start_line.wait()
        try:
            for _ in range(calls_each):
                t = time.perf_counter()
                reply = call(request, timeout=8)
                mine.append((time.perf_counter() - t) * 1e3)
            replies.append(reply)
        except Exception as err:  # a failed call fails the bench, it is not a fast sample
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    start_line.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall_s = time.perf_counter() - t0
    check(not errors, f"{len(errors)} client(s) failed: {errors[:1]}")
    for reply in replies:
        check(reply.transcoder == server.url, f"transcoder {reply.transcoder!r} != {server.url}")
        check(len(reply.auth_token.token) == 32, "reply without a 32-byte auth token")
    samples = [x for mine in latencies for x in mine]
    return {
        "calls": len(samples),
        "calls_per_s": round(len(samples) / wall_s, 1),
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(_percentile(samples, 0.99), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


def main() -> None:
    a = args(__doc__ or "")
    calls = 20 if a.smoke else max(a.iterations, 1) * 40  # default 2000 calls per client
    warmup = 2 if a.smoke else WARMUP_CALLS
    info = machine()
    with BenchServer() as server:
        for concurrency in (1, 16):
            each = max(1, calls // concurrency) if concurrency > 1 else calls
            result = run(server, concurrency, each, warmup)
            emit(
                {
                    "bench": "discovery",
                    "case": f"GetOrchestrator, TLS + HTTP/2, concurrency {concurrency}",
                    "concurrency": concurrency,
                    "machine": info,
                    **result,
                    "target_p50_ms": TARGET_P50_MS if concurrency == 1 else None,
                    "go_deadline_ms": GO_CLIENT_DEADLINE_MS,
                    "speedup_vs_go_deadline": round(GO_CLIENT_DEADLINE_MS / result["p99_ms"], 1),
                }
            )


if __name__ == "__main__":
    main()
