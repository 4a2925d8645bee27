"""image-to-image (capability 28): diffusers' AutoPipelineForImage2Image (ai-api.md §2.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lpengine.ai.errors import AIError
from lpengine.ai.images import decode_image, image_size
from lpengine.ai.pipelines import diffusion as d
from lpengine.ai.pipelines.base import Item, Prepared
from lpengine.ai.pipelines.lora import lora_key
from lpengine.capabilities import Capability


class ImageToImage(d.PromptedPipeline):
    name = "image-to-image"
    capability = Capability.IMAGE_TO_IMAGE
    loader = "AutoPipelineForImage2Image"

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
        key = (
            image.size,
            d.inference_steps(params),
            params["strength"],
            params["guidance_scale"],
            params["image_guidance_scale"],
            lora_key(loras),
        )
        return cls.prompted(params, key, loras, width * height, n, image=image)

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        _, steps, strength, guidance, image_guidance, loras = items[0].key
        (images,) = d.batch_inputs(items, pad_to, "image")
        kwargs: dict[str, Any] = {"image": images, "strength": strength}
        kwargs["guidance_scale"] = guidance
        if "image_guidance_scale" in self._accepts:  # instruct-pix2pix
            kwargs["image_guidance_scale"] = image_guidance
        return self.generate_prompted(items, pad_to, steps, loras, **kwargs)
