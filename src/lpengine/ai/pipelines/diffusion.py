"""What the diffusers pipelines share: loading from a snapshot folder, seeds, checks, PNGs."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from lpengine.ai.errors import AIError
from lpengine.ai.images import png_data_url
from lpengine.ai.pipelines.base import Item, Pipeline, Prepared, pad, seeds, split_prompt
from lpengine.ai.pipelines.lora import Adapters, LoraKey
from lpengine.ai.runtime import Optimizations
from lpengine.ai.safety_checker import SafetyChecker

MAX_SIDE = 4096  # pixels; past this no GPU has the memory (the runner has no limit: it OOMs)
MAX_IMAGES = 16  # per request
MAX_LORAS = 4


def load_diffusers(loader: Any, folder: Path, device: str, dtype: Any) -> Any:
    """`loader.from_pretrained` on the snapshot folder only (never the hub) in `dtype` (fp16 on
    CUDA), and the `fp16` weight variant when the folder has one (ai-api.md §6)."""
    import torch
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    # NOTE: a server logs lines, not progress bars (transformers' function is untyped).
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    kwargs: dict[str, Any] = {"local_files_only": True}
    if dtype != torch.float32:
        kwargs["torch_dtype"] = dtype
        if any(folder.rglob("*.fp16.safetensors")):
            kwargs["variant"] = "fp16"
    pipe = loader.from_pretrained(str(folder), **kwargs).to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def denoiser(pipe: Any) -> list[Any]:
    """The module a diffusers pipeline calls once per step: what compiling pays off on."""
    module = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    return [] if module is None else [module]


def module_bytes(pipe: Any) -> int:
    import torch

    total = 0
    for component in getattr(pipe, "components", {}).values():
        if isinstance(component, torch.nn.Module):
            tensors = [*component.parameters(), *component.buffers()]
            total += sum(t.numel() * t.element_size() for t in tensors)
    return total


def generators(device: str, seeds: Sequence[int]) -> list[Any]:
    import torch

    gen_device = "cpu" if device == "mps" else device
    return [torch.Generator(gen_device).manual_seed(s) for s in seeds]


def inference_steps(params: dict[str, Any]) -> int | None:
    """`num_inference_steps`; None (the model's default) when < 1, as ai-runner."""
    steps: int = params["num_inference_steps"]
    return steps if steps >= 1 else None


def check_prompt(params: dict[str, Any]) -> None:
    if not params["prompt"].strip():
        raise AIError(400, "Prompt must be provided.")


def check_count(params: dict[str, Any]) -> int:
    n = params["num_images_per_prompt"]
    if not 1 <= n <= MAX_IMAGES:
        raise AIError(400, f"num_images_per_prompt: expected 1..{MAX_IMAGES}, got {n}")
    return int(n)


def check_loras(value: str) -> dict[str, float]:
    """The `loras` field (ai-api.md §1): a JSON object of repo -> weight, at most 4."""
    if not value.strip():
        return {}
    try:
        loras = json.loads(value)
    except json.JSONDecodeError:
        raise AIError(400, f"Unable to parse '{value}' as JSON.") from None
    if not isinstance(loras, dict):
        raise AIError(400, f"Unable to parse '{value}' as JSON.")
    if not all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0
               for w in loras.values()):  # fmt: skip
        raise AIError(400, "All strengths must be numbers greater than or equal to 0.0.")
    if len(loras) > MAX_LORAS:
        raise AIError(400, f"Too many LoRas provided. Maximum is {MAX_LORAS}.")
    # NOTE: whether each repo is in the models dir is the manager's check (ModelManager.prepare).
    return {str(repo): float(weight) for repo, weight in loras.items()}


def check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0 or width % 8 or height % 8:
        raise AIError(
            400, f"`height` and `width` have to be divisible by 8 but are {height} and {width}."
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        raise AIError(
            400, f"`height` and `width` must be at most {MAX_SIDE} but are {height} and {width}."
        )


def image_results(
    out: Any, items: Sequence[Item], safety: SafetyChecker | None
) -> list[tuple[Any, bool]]:
    """(PIL image, nsfw) per item of a diffusers output, padding dropped; nsfw from one
    safety-checker call over the items whose request asked for the check (ai-runner's: a
    pipeline's own checker, as SD 1.5 folders carry, is not what `nsfw` reports)."""
    images = out.images[: len(items)]
    checked = [bool(item.inputs["safety_check"]) for item in items]
    nsfw = safety.flags(images, checked) if safety is not None else [False] * len(images)
    return list(zip(images, nsfw, strict=True))


def image_response(prepared: Prepared, results: list[Any]) -> dict[str, Any]:
    """ImageResponse: PNG data URLs with each item's seed; nsfw False when unchecked."""
    safety_check = bool(prepared.context)
    images = []
    for item, (image, nsfw) in zip(prepared.items, results, strict=True):
        images.append(
            {"url": png_data_url(image), "seed": item.inputs["seed"], "nsfw": safety_check and nsfw}
        )
    return {"images": images}


def batch_inputs(items: Sequence[Item], pad_to: int, *names: str) -> list[list[Any]]:
    return [pad([it.inputs[n] for it in items], pad_to) for n in names]


def prompt_kwargs(accepts: set[str], prompts: list[str], negatives: list[str]) -> dict[str, Any]:
    """prompt / prompt_2 … and the negative ones, as many parts as the pipeline takes."""
    kwargs: dict[str, Any] = {}
    for field, texts in (("prompt", prompts), ("negative_prompt", negatives)):
        parts = [split_prompt(t) for t in texts]
        for i in range(max(len(p) for p in parts)):
            name = field if i == 0 else f"{field}_{i + 1}"
            if name in accepts:
                kwargs[name] = [p[i] if i < len(p) else p[0] for p in parts]
    return kwargs


class DiffusersPipeline(Pipeline):
    """A diffusers pipeline loaded by `loader` from the snapshot folder: its denoiser is what
    compiling acts on, its torch modules are its memory, its images answer an ImageResponse."""

    checks_safety = True
    loader: ClassVar[str]  # the diffusers class whose from_pretrained reads the folder

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        diffusers = importlib.import_module("diffusers")
        self.pipe = load_diffusers(getattr(diffusers, self.loader), folder, device, self.dtype)

    def compile_targets(self) -> list[Any]:
        return denoiser(self.pipe)

    def generate(
        self, items: Sequence[Item], batch_seeds: list[int], steps: int | None, **kwargs: Any
    ) -> list[tuple[Any, bool]]:
        """One call of the pipe, one generator a seed (`steps` None: the model's default):
        (PIL image, nsfw) per item."""
        if steps is not None:
            kwargs["num_inference_steps"] = steps
        out = self.pipe(generator=generators(self.device, batch_seeds), **kwargs)
        return image_results(out, items, self.safety)

    @classmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        return image_response(prepared, results)

    @property
    def memory_bytes(self) -> int:
        return module_bytes(self.pipe)


class PromptedPipeline(DiffusersPipeline):
    """text-to-image and image-to-image: prompts of up to 4 parts and negative ones, `n` images
    a request (seeds seed, seed+1, …) and the request's LoRA adapters."""

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        self._accepts = set(inspect.signature(self.pipe.__call__).parameters)
        self.adapters = Adapters(self.pipe, folder, device, self.options.max_loras)

    @staticmethod
    def prompted(
        params: dict[str, Any], key: Any, loras: dict[str, float], pixels: int, n: int,
        **inputs: Any,
    ) -> Prepared:  # fmt: skip
        """`n` items of `key`, one a seed, with the prompts, `inputs` and the safety check;
        priced `pixels` an image."""
        shared = {"prompt": params["prompt"], "negative": params["negative_prompt"], **inputs,
                  "safety_check": params["safety_check"]}  # fmt: skip
        items = tuple(Item(key, {**shared, "seed": s}) for s in seeds(params["seed"], n))
        return Prepared(pixels * n, items, context=params["safety_check"], loras=tuple(loras))

    def generate_prompted(
        self, items: Sequence[Item], pad_to: int, steps: int | None, loras: LoraKey, **kwargs: Any
    ) -> list[tuple[Any, bool]]:
        """`generate` with the items' prompts as the pipe takes them, under the batch's loras."""
        prompts, negatives, batch_seeds = batch_inputs(items, pad_to, "prompt", "negative", "seed")
        kwargs |= prompt_kwargs(self._accepts, prompts, negatives)
        self.adapters.apply(loras)
        return self.generate(items, batch_seeds, steps, **kwargs)
