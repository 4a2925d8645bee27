"""How a model runs: its dtype and the compilers applied to it, from aiModels `optimization_flags`.

Flag names are ai-runner's runner env names where it has one (`TORCH_COMPILE`, `BFLOAT16`; go
passes `optimization_flags` to the runner as its environment), lpengine's own otherwise
(`CUDA_GRAPHS`, `TENSORRT`, `max_batch_size`, `max_wait_ms`, `max_loras`: the LoRA adapters
kept loaded, ai-runner's 12 by default); names are case-insensitive and switches take JSON
booleans or ai-runner's strings "true"/"false". A bad value is a ValueError naming the flag (the
manager then does not advertise the model). ai-runner flags lpengine does not build (`SFAST`,
`DEEPCACHE`, …) are accepted and logged as ignored; other names are errors.

On CUDA models load in float16 (bfloat16 with `BFLOAT16`), on CPU in float32. The compilers
act on a pipeline's `compile_targets()` (the denoiser, the transformer) when it is loaded:
`TORCH_COMPILE` is `torch.compile` (lazily: the first call compiles), `CUDA_GRAPHS` its
"reduce-overhead" mode (CUDA graphs; the padded batches keep every call one shape), `TENSORRT`
its `torch_tensorrt` backend. What cannot apply on this machine (CUDA graphs or TensorRT on CPU,
TensorRT not installed) is logged with the reason and the model loads without it.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SWITCHES = ("torch_compile", "cuda_graphs", "tensorrt", "bfloat16")
# ai-runner's runner env (ai-api.md §6) that lpengine does not build: accepted, ignored.
IGNORED = frozenset(
    {"sfast", "sfast_warmup", "deepcache", "safety_checker_device", "backend", "use_8bit",
     "max_num_batched_tokens", "max_num_seqs", "max_model_len", "gpu_memory_utilization",
     "tensor_parallel_size", "pipeline_parallel_size"}
)  # fmt: skip


@dataclass(frozen=True)
class Optimizations:
    """A model's runtime options, parsed from its aiModels entry's `optimization_flags`."""

    max_batch_size: int = 1
    max_wait_ms: float = 0.0
    torch_compile: bool = False
    cuda_graphs: bool = False
    tensorrt: bool = False
    bfloat16: bool = False
    max_loras: int = 12  # LoRA adapters kept loaded per model (ai-runner's LORA_MAX_LOADED)


def parse_flags(flags: Mapping[str, Any], where: str) -> Optimizations:
    """`optimization_flags` -> Optimizations; ValueError naming `where` and the flag."""
    lowered = {str(k).lower(): (str(k), v) for k, v in flags.items()}
    values: dict[str, Any] = {}
    for key, (name, value) in lowered.items():
        what = f"{where}.optimization_flags.{name}"
        if key in ("max_batch_size", "max_loras"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{what}: expected an integer >= 1, got {value!r}")
            values[key] = value
        elif key == "max_wait_ms":
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{what}: expected a number >= 0, got {value!r}")
            values[key] = float(value)
        elif key in SWITCHES:
            values[key] = _switch(value, what)
        elif key in IGNORED:
            log.warning("%s: ai-runner's option is not built in lpengine; ignored", what)
        else:
            known = ", ".join(("max_batch_size", "max_wait_ms", "max_loras",
                               *(s.upper() for s in SWITCHES)))  # fmt: skip
            raise ValueError(f"{what}: unknown flag (lpengine's are {known})")
    return Optimizations(**values)


def _switch(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{what}: expected true or false, got {value!r}")


def torch_dtype(device: str, options: Optimizations) -> Any:
    """float16 on CUDA (bfloat16 with BFLOAT16), float32 elsewhere: CPU kernels lack fp16."""
    import torch

    if not device.startswith("cuda"):
        return torch.float32
    return torch.bfloat16 if options.bfloat16 else torch.float16


def optimize(targets: Sequence[Any], device: str, options: Optimizations, name: str) -> list[str]:
    """Applies the compile options to `targets` (torch modules, in place); what was applied,
    e.g. ["torch.compile(mode=reduce-overhead)"]. What cannot apply here is logged, not raised."""
    cuda = device.startswith("cuda")
    wanted = options.torch_compile or options.cuda_graphs or options.tensorrt
    if not wanted:
        return []
    if not targets:
        log.warning("%s: optimization flags not applied: its runtime is not torch", name)
        return []
    kwargs: dict[str, Any] = {}
    if options.tensorrt:
        why = tensorrt_missing() if cuda else "TensorRT needs CUDA and the device is " + device
        if why is None:
            kwargs["backend"] = "torch_tensorrt"
            kwargs["dynamic"] = False  # NOTE: padded batches: one engine per model shape
        else:
            log.warning("%s: TENSORRT not applied: %s", name, why)
    if options.cuda_graphs and "backend" not in kwargs:
        if cuda:
            kwargs["mode"] = "reduce-overhead"  # inductor with CUDA graph trees
        else:
            log.warning("%s: CUDA_GRAPHS refused: CUDA graphs need CUDA, the device is %s",
                        name, device)  # fmt: skip
    if not kwargs and not options.torch_compile:
        return []
    with warnings.catch_warnings():
        # NOTE: inductor imports torch.utils.mkldnn, whose torch.jit use warns on import (once).
        warnings.simplefilter("ignore", DeprecationWarning)
        importlib.import_module("torch.utils.mkldnn")
    for module in targets:
        module.compile(**kwargs)
    applied = "torch.compile(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
    log.info("%s: %s on %d module(s), compiled on first use", name, applied, len(targets))
    return [applied]


def tensorrt_missing() -> str | None:
    """Why TensorRT engines cannot be built here, or None when tensorrt and torch_tensorrt
    import (torch_tensorrt registers torch.compile's "torch_tensorrt" backend)."""
    for module in ("tensorrt", "torch_tensorrt"):
        try:
            importlib.import_module(module)
        except ImportError as err:
            return f"{module} does not import ({err})"
    return None
