"""image-to-text (capability 34): BLIP captioning through transformers'
BlipForConditionalGeneration (ai-api.md §2.8; the runner's Salesforce/blip-image-captioning-large).

The image processor is written here (resize, rescale, normalise from the folder's
preprocessor_config.json) because transformers' own needs torchvision, which is not installable
beside the CPU torch build. An optional `prompt` conditions the caption, which then starts with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lpengine.ai.images import decode_image
from lpengine.ai.pipelines.base import Item, Prepared, pad
from lpengine.ai.pipelines.pretrained import PretrainedPipeline, upload_size
from lpengine.ai.runtime import Optimizations
from lpengine.capabilities import Capability

MAX_CAPTION_TOKENS = 20  # what the runner's generate() gets by default (max_length 20)
# BLIP's defaults (OPENAI_CLIP_MEAN / STD, 384 px, bicubic) when the folder does not say.
_MEAN, _STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


class ImageToText(PretrainedPipeline):
    name = "image-to-text"
    capability = Capability.IMAGE_TO_TEXT

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        self.model = self.load_model("BlipForConditionalGeneration", dtype=self.dtype)
        self.tokenizer = self.pretrained("AutoTokenizer")
        self.size, self.mean, self.std = _preprocessing(folder, self.model.config)

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        data: bytes = params["image"]
        width, height = upload_size(data)
        image = decode_image(data)
        item = Item(("caption", params["prompt"]), {"image": image, "prompt": params["prompt"]})
        return Prepared(width * height, (item,))

    def pixels(self, images: Sequence[Any]) -> Any:
        """pixel_values: [N, 3, H, W] normalised, on the model's device and dtype."""
        import torch
        from PIL import Image

        h, w = self.size
        arrays = [np.asarray(im.resize((w, h), Image.Resampling.BICUBIC), np.float32) / 255.0
                  for im in images]  # fmt: skip
        x = (np.stack(arrays) - np.asarray(self.mean, np.float32)) / np.asarray(
            self.std, np.float32
        )
        return torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(self.device, self.dtype)

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        import torch

        images = pad([it.inputs["image"] for it in items], pad_to)
        kwargs: dict[str, Any] = {
            "pixel_values": self.pixels(images),
            "max_new_tokens": MAX_CAPTION_TOKENS,
        }
        prompt = items[0].inputs["prompt"]
        if prompt:  # conditional captioning: the caption continues the prompt
            ids = self.tokenizer([prompt] * len(images), return_tensors="pt")
            kwargs["input_ids"] = ids.input_ids.to(self.device)
            kwargs["attention_mask"] = ids.attention_mask.to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**kwargs)
        texts = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        return [str(t).strip() for t in texts[: len(items)]]

    @classmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        return {"text": results[0]}


def _preprocessing(folder: Path, config: Any) -> tuple[tuple[int, int], Any, Any]:
    """((height, width), mean, std) from preprocessor_config.json, else BLIP's defaults."""
    side = int(config.vision_config.image_size)
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return (side, side), _MEAN, _STD
    doc = json.loads(path.read_text(encoding="utf-8"))
    size = doc.get("size", side)
    if isinstance(size, dict):
        hw = (int(size.get("height", side)), int(size.get("width", side)))
    else:
        hw = (int(size), int(size))
    return hw, tuple(doc.get("image_mean", _MEAN)), tuple(doc.get("image_std", _STD))
