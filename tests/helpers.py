"""Helpers the tests import: generated frames, a free port, GPU detection, the server."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf.message import Message

from lpengine import _native


def random_frame(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A 4:2:0 frame [height * 3 / 2, width] with noise, flat areas and the extreme codes."""
    f = rng.integers(0, 256, (height * 3 // 2, width), dtype=np.uint8)
    f[: height // 4] = 0
    f[-1:] = 255
    return f


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


needs_gpu = pytest.mark.skipif(
    _native.cuda_device_count() == 0,
    reason=f"no CUDA GPU on this machine (CUDA build: {_native.HAS_CUDA}); "
    "run bench/gpu/run.sh on a GPU machine",
)


class ServerProcess:
    """`python -m lpengine.serve` in a subprocess: started, awaited by its log line, drained.

    `url` is the TLS service port (gRPC + HTTPS), `cli_url` the operator API.
    """

    READY = "lpengine listening"

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.cli_port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.cli_url = f"http://127.0.0.1:{self.cli_port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lpengine.serve",
                "-serviceAddr",
                f"127.0.0.1:{self.port}",
                "-cliAddr",
                f"127.0.0.1:{self.cli_port}",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # the server says when it listens: no sleeping, no polling
            self.lines.append(line)
            if self.READY in line:
                break
        else:
            self.proc.wait()
            self.proc.stdout.close()
            raise RuntimeError("server exited before listening:\n" + self.log)
        # Keep reading so a chatty server never blocks on a full pipe.
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self._pem: bytes | None = None

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    @property
    def pem(self) -> bytes:
        """The certificate the service port presents (what the SDK pins)."""
        if self._pem is None:
            self._pem = ssl.get_server_certificate(("127.0.0.1", self.port)).encode()
        return self._pem

    def grpc_channel(self) -> grpc.Channel:
        """A TLS channel that trusts the server's own certificate, as the SDK does."""
        credentials = grpc.ssl_channel_credentials(root_certificates=self.pem)
        options = [("grpc.ssl_target_name_override", "127.0.0.1")]
        return grpc.secure_channel(f"127.0.0.1:{self.port}", credentials, options=options)

    def kill(self, timeout_s: float = 10) -> int:
        """SIGKILL: no shutdown, nothing flushed (what the durability tests need)."""
        self.proc.kill()
        code = self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout_s)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code

    def stop(self, timeout_s: float = 10) -> int:
        self.proc.terminate()
        code = self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout_s)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code


def unary(channel: grpc.Channel, method: str, reply: type[Message]) -> grpc.UnaryUnaryMultiCallable:
    """A unary call on `channel`, e.g. unary(ch, "GetOrchestrator", pb.OrchestratorInfo)."""
    path = method if method.startswith("/") else f"/net.Orchestrator/{method}"
    return channel.unary_unary(
        path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=reply.FromString,
    )


def run_sdk_script(python: Path, script: Path, command: dict[str, Any], timeout: float = 60) -> Any:
    """Runs `script` in the SDK's virtual environment with `command` as JSON; its last line,
    parsed. PYTHONPATH is dropped: the SDK's Python must not see this checkout's packages."""
    out = subprocess.run(
        [python, str(script), json.dumps(command)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])
