"""upscale (capability 30): the x4 upscaler's pipeline, whatever class the folder names
(StableDiffusionUpscalePipeline for stabilityai/stable-diffusion-x4-upscaler; ai-api.md §2.4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lpengine.ai.images import decode_image, image_size
from lpengine.ai.pipelines import diffusion as d
from lpengine.ai.pipelines.base import Item, Prepared, seeds
from lpengine.capabilities import Capability

MAX_INPUT_SIDE = 1024  # the output is 4x: 4096


class Upscale(d.DiffusersPipeline):
    name = "upscale"
    capability = Capability.UPSCALE
    loader = "DiffusionPipeline"

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        d.check_prompt(params)
        width, height = image_size(params["image"])
        d.check_size(4 * max(8, width - width % 8), 4 * max(8, height - height % 8))
        image = decode_image(params["image"])
        key = (image.size, d.inference_steps(params))
        (seed,) = seeds(params["seed"], 1, zero_is_random=True)
        inputs = {"prompt": params["prompt"], "image": image, "seed": seed,
                  "safety_check": params["safety_check"]}  # fmt: skip
        item = Item(key, inputs)
        return Prepared(width * height, (item,), context=params["safety_check"])

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        _, steps = items[0].key
        prompts, images, batch_seeds = d.batch_inputs(items, pad_to, "prompt", "image", "seed")
        return self.generate(items, batch_seeds, steps, prompt=prompts, image=images)
