"""Engine: the embeddable object every host (and the server) talks to.

It owns the machine's resources; workloads (transcoding, AI, live, BYOC) attach to it as they are
built. A host process uses it directly:

    with lpengine.Engine() as engine:
        print(engine.features)
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from lpengine import _native, hardware
from lpengine.config import EngineConfig

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        if self.config.num_threads and _native.HAS_NATIVE:
            _native.core.set_num_threads(self.config.num_threads)
        self.hardware = hardware.detect()
        self.features: dict[str, Any] = _native.compiled_features()
        self._closed = False
        log.info(
            "engine ready: %s; native core %s", self.hardware.describe(), self.describe_features()
        )

    def describe_features(self) -> str:
        f = self.features
        if not f["cpu"]:
            return "absent (numpy reference ops)"
        cuda = (
            f"CUDA {f['cuda_runtime']} archs {','.join(f['cuda_archs'])}"
            if f["cuda"]
            else "no CUDA"
        )
        simd = ",".join(f["cpu_simd"]) or "baseline x86-64"
        return f"{f['version']} (cpu {simd}, {f['threads']} threads; {cuda})"

    def status(self) -> dict[str, Any]:
        """A JSON-ready summary for operators."""
        return {
            "network": self.config.network,
            "features": self.features,
            "hardware": {
                "cpu_model": self.hardware.cpu_model,
                "cpu_count": self.hardware.cpu_count,
                "gpus": [g.__dict__ for g in self.hardware.gpus],
            },
        }

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
