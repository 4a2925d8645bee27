"""text-to-image (capability 27): diffusers' AutoPipelineForText2Image (ai-api.md §2.1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lpengine.ai.pipelines import diffusion as d
from lpengine.ai.pipelines.base import Item, Prepared
from lpengine.ai.pipelines.lora import lora_key
from lpengine.capabilities import Capability


class TextToImage(d.PromptedPipeline):
    name = "text-to-image"
    capability = Capability.TEXT_TO_IMAGE
    loader = "AutoPipelineForText2Image"

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        d.check_prompt(params)
        loras = d.check_loras(params["loras"])
        width, height = params["width"], params["height"]
        d.check_size(width, height)
        n = d.check_count(params)
        key = (
            width,
            height,
            d.inference_steps(params),
            params["guidance_scale"],
            lora_key(loras),
        )
        return cls.prompted(params, key, loras, width * height, n)

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        width, height, steps, guidance, loras = items[0].key
        kwargs = {"width": width, "height": height, "guidance_scale": guidance}
        return self.generate_prompted(items, pad_to, steps, loras, **kwargs)
