"""upscale (capability 30): the x4 upscaler's pipeline, whatever class the folder names
(StableDiffusionUpscalePipeline for stabilityai/stable-diffusion-x4-upscaler; ai-api.md §2.4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lpengine.ai.images import decode_image, image_size
from lpengine.ai.pipelines import diffusion as d
from lpengine.ai.pipelines.base import Item, Pipeline, Prepared, seeds
from lpengine.ai.runtime import Optimizations
from lpengine.capabilities import Capability

MAX_INPUT_SIDE = 1024  # the output is 4x: 4096


class Upscale(Pipeline):
    name = "upscale"
    capability = Capability.UPSCALE
    checks_safety = True

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        from diffusers import DiffusionPipeline

        self.pipe = d.load_diffusers(DiffusionPipeline, folder, device, self.dtype)

    def compile_targets(self) -> list[Any]:
        return d.denoiser(self.pipe)

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        d.check_prompt(params)
        width, height = image_size(params["image"])
        d.check_size(4 * max(8, width - width % 8), 4 * max(8, height - height % 8))
        image = decode_image(params["image"])
        steps = params["num_inference_steps"]
        key = (image.size, steps if steps >= 1 else None)
        (seed,) = seeds(params["seed"], 1, zero_is_random=True)
        inputs = {"prompt": params["prompt"], "image": image, "seed": seed,
                  "safety_check": params["safety_check"]}  # fmt: skip
        item = Item(key, inputs)
        return Prepared(width * height, (item,), context=params["safety_check"])

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        _, steps = items[0].key
        prompts, images, batch_seeds = d.batch_inputs(items, pad_to, "prompt", "image", "seed")
        kwargs: dict[str, Any] = {"prompt": prompts, "image": images}
        if steps is not None:
            kwargs["num_inference_steps"] = steps
        out = self.pipe(generator=d.generators(self.device, batch_seeds), **kwargs)
        return d.image_results(out, items, self.safety)

    @classmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        return d.image_response(prepared, results)

    @property
    def memory_bytes(self) -> int:
        return d.module_bytes(self.pipe)
