"""image-to-image (capability 28): diffusers' AutoPipelineForImage2Image (ai-api.md §2.2)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lpengine.ai.errors import AIError
from lpengine.ai.images import decode_image, image_size
from lpengine.ai.pipelines import diffusion as d
from lpengine.ai.pipelines.base import Item, Pipeline, Prepared, seeds
from lpengine.ai.pipelines.lora import Adapters, lora_key
from lpengine.ai.pipelines.text_to_image import prompt_kwargs
from lpengine.ai.runtime import Optimizations
from lpengine.capabilities import Capability


class ImageToImage(Pipeline):
    name = "image-to-image"
    capability = Capability.IMAGE_TO_IMAGE
    checks_safety = True

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        from diffusers import AutoPipelineForImage2Image

        self.pipe = d.load_diffusers(AutoPipelineForImage2Image, folder, device, self.dtype)
        self._accepts = set(inspect.signature(self.pipe.__call__).parameters)
        self.adapters = Adapters(self.pipe, folder, device, self.options.max_loras)

    def compile_targets(self) -> list[Any]:
        return d.denoiser(self.pipe)

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        d.check_prompt(params)
        loras = d.check_loras(params["loras"])
        width, height = image_size(params["image"])
        d.check_size(width - width % 8 or 8, height - height % 8 or 8)
        n = d.check_count(params)
        if not 0 <= params["strength"] <= 1:
            raise AIError(400, f"strength: expected 0..1, got {params['strength']}")
        image = decode_image(params["image"])
        steps = params["num_inference_steps"]
        key = (
            image.size,
            steps if steps >= 1 else None,
            params["strength"],
            params["guidance_scale"],
            params["image_guidance_scale"],
            lora_key(loras),
        )
        items = tuple(
            Item(
                key,
                {
                    "prompt": params["prompt"],
                    "negative": params["negative_prompt"],
                    "image": image,
                    "seed": s,
                    "safety_check": params["safety_check"],
                },
            )
            for s in seeds(params["seed"], n)
        )
        return Prepared(
            width * height * n, items, context=params["safety_check"], loras=tuple(loras)
        )

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        _, steps, strength, guidance, image_guidance, loras = items[0].key
        prompts, negatives, images, batch_seeds = d.batch_inputs(
            items, pad_to, "prompt", "negative", "image", "seed"
        )
        kwargs: dict[str, Any] = {"image": images, "strength": strength}
        kwargs["guidance_scale"] = guidance
        if "image_guidance_scale" in self._accepts:  # instruct-pix2pix
            kwargs["image_guidance_scale"] = image_guidance
        if steps is not None:
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
