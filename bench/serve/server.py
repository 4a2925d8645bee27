"""`python -m lpengine.serve` in a subprocess for benches: on free ports, awaited, stopped."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from types import TracebackType

READY = "lpengine listening"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BenchServer:
    def __init__(self, *args: str) -> None:
        self.port = _free_port()
        self.data_dir = tempfile.TemporaryDirectory(prefix="lpengine-bench-")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lpengine.serve",
                "-serviceAddr",
                f"127.0.0.1:{self.port}",
                "-cliAddr",
                f"127.0.0.1:{_free_port()}",
                "-dataDir",
                self.data_dir.name,
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        for line in self.proc.stdout:
            self.lines.append(line)
            if READY in line:
                break
        else:
            raise RuntimeError("server exited before listening:\n" + "".join(self.lines))
        threading.Thread(target=self._drain, daemon=True).start()
        self.url = f"https://127.0.0.1:{self.port}"
        self.pem = ssl.get_server_certificate(("127.0.0.1", self.port)).encode()

    def _drain(self) -> None:
        for line in self.proc.stdout or []:
            self.lines.append(line)

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.data_dir.cleanup()
