"""What this machine has: CPU model and cores, CUDA GPUs usable by the native core."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

from lpengine import _native


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    uuid: str
    major: int
    minor: int
    memory_free: int  # bytes
    memory_total: int  # bytes


@dataclass(frozen=True)
class Hardware:
    cpu_model: str
    cpu_count: int
    gpus: tuple[GpuInfo, ...]

    def describe(self) -> str:
        gpus = ", ".join(f"{g.name} (sm_{g.major}{g.minor})" for g in self.gpus) or "none"
        return f"CPU {self.cpu_model} x{self.cpu_count}; GPUs: {gpus}"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def detect_gpus() -> tuple[GpuInfo, ...]:
    """GPUs the compiled core can use; empty without a CUDA build, a driver or a device."""
    gpus = []
    for i in range(_native.cuda_device_count()):
        info = _native.core.cuda_device_info(i)
        gpus.append(GpuInfo(index=i, **info))
    return tuple(gpus)


def detect() -> Hardware:
    return Hardware(cpu_model=cpu_model(), cpu_count=os.cpu_count() or 1, gpus=detect_gpus())
