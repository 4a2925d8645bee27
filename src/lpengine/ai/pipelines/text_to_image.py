"""text-to-image (capability 27): diffusers' AutoPipelineForText2Image (ai-api.md §2.1)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lpengine.ai.pipelines import diffusion as d
from lpengine.ai.pipelines.base import Item, Pipeline, Prepared, seeds, split_prompt
from lpengine.ai.pipelines.lora import Adapters, lora_key
from lpengine.ai.runtime import Optimizations
from lpengine.capabilities import Capability


class TextToImage(Pipeline):
    name = "text-to-image"
    capability = Capability.TEXT_TO_IMAGE
    checks_safety = True

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        from diffusers import AutoPipelineForText2Image

        self.pipe = d.load_diffusers(AutoPipelineForText2Image, folder, device, self.dtype)
        self._accepts = set(inspect.signature(self.pipe.__call__).parameters)
        self.adapters = Adapters(self.pipe, folder, device, self.options.max_loras)

    def compile_targets(self) -> list[Any]:
        return d.denoiser(self.pipe)

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        d.check_prompt(params)
        loras = d.check_loras(params["loras"])
        width, height = params["width"], params["height"]
        d.check_size(width, height)
        n = d.check_count(params)
        steps = params["num_inference_steps"]
        key = (
            width,
            height,
            steps if steps >= 1 else None,
            params["guidance_scale"],
            lora_key(loras),
        )
        shared = {
            "prompt": params["prompt"],
            "negative": params["negative_prompt"],
            "safety_check": params["safety_check"],
        }
        items = tuple(Item(key, {**shared, "seed": s}) for s in seeds(params["seed"], n))
        return Prepared(
            width * height * n, items, context=params["safety_check"], loras=tuple(loras)
        )

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        width, height, steps, guidance, loras = items[0].key
        prompts, negatives, batch_seeds = d.batch_inputs(
            items, pad_to, "prompt", "negative", "seed"
        )
        kwargs: dict[str, Any] = {"width": width, "height": height, "guidance_scale": guidance}
        if steps is not None:  # NOTE: < 1 falls back to the model's default (ai-runner)
            kwargs["num_inference_steps"] = steps
        kwargs |= prompt_kwargs(self._accepts, prompts, negatives)
        self.adapters.apply(loras)
        out = self.pipe(generator=d.generators(self.device, batch_seeds), **kwargs)
        return d.image_results(out, items, self.safety)

    @classmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        return d.image_response(prepared, results)

    @property
    def memory_bytes(self) -> int:
        return d.module_bytes(self.pipe)


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
