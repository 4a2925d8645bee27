"""segment-anything-2 (capability 32): transformers' Sam2Model (ai-api.md §2.6; the runner's
facebook/sam2-hiera-large through SAM2ImagePredictor).

Pre- and post-processing are written here, as SAM2's own transforms do them, because
transformers' Sam2Processor needs torchvision: the image is resized to the model's square input
(bilinear), rescaled and normalised with ImageNet's mean and std; points and boxes are scaled from
pixels (or from [0, 1] with `normalize_coords` false) to that square; the low-resolution mask
logits are resized back to the image, thresholded at 0 unless `return_logits`. The answer is
the runner's: Python-style strings of the masks, scores and low-res logits, best score first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lpengine.ai.errors import AIError
from lpengine.ai.images import decode_image
from lpengine.ai.pipelines.base import Item, Prepared
from lpengine.ai.pipelines.pretrained import PretrainedPipeline, upload_size
from lpengine.ai.runtime import Optimizations
from lpengine.capabilities import Capability

_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class SegmentAnything2(PretrainedPipeline):
    name = "segment-anything-2"
    capability = Capability.SEGMENT_ANYTHING_2
    batchable = False

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        self.model = self.load_model("Sam2Model", dtype=self.dtype)
        self.side = int(self.model.config.vision_config.backbone_config.image_size[0])
        self.mask_side = self.side // 4  # the decoder's low-res masks, and mask_input's size

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        data: bytes = params["image"]
        width, height = upload_size(data)
        coords = _json_array(params, "point_coords", 2)
        labels = _json_array(params, "point_labels", 1)
        box = _json_array(params, "box", 1)
        mask = _json_array(params, "mask_input", 3)
        if (coords is None) != (labels is None):
            raise AIError(400, "point_coords and point_labels must be given together")
        pairs = coords is None or (coords.shape[1] == 2 and 0 < len(coords) == len(labels))
        if not pairs:
            raise AIError(400, "point_coords: expected N [x, y] pairs, one per point_labels")
        if box is not None and box.shape != (4,):
            raise AIError(400, "box: expected [x1, y1, x2, y2]")
        if mask is not None and (mask.shape[0] != 1 or mask.shape[1] != mask.shape[2]):
            raise AIError(400, f"mask_input: expected 1xHxW with H = W, got {mask.shape}")
        inputs = {
            "image": decode_image(data), "coords": coords, "labels": labels, "box": box,
            "mask": mask, "multimask": params["multimask_output"],
            "logits": params["return_logits"], "normalize": params["normalize_coords"],
        }  # fmt: skip
        # NOTE: never batched (batchable = False): prompts differ per request, each runs alone.
        return Prepared(width * height, (Item(object(), inputs),))

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        return [self._segment(item.inputs) for item in items]

    def _segment(self, p: dict[str, Any]) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F

        image = p["image"]
        w, h = image.size
        scale = np.asarray([self.side / w, self.side / h], np.float32)
        if not p["normalize"]:  # coordinates already in [0, 1] of the image
            scale = np.asarray([self.side, self.side], np.float32)
        kwargs: dict[str, Any] = {
            "pixel_values": self.pixels(image),
            "multimask_output": p["multimask"],
        }
        if p["coords"] is not None:
            kwargs["input_points"] = self._tensor(p["coords"] * scale)[None, None]
            kwargs["input_labels"] = torch.as_tensor(
                p["labels"], dtype=torch.long, device=self.device
            )[None, None]
        if p["box"] is not None:
            kwargs["input_boxes"] = self._tensor(p["box"].reshape(2, 2) * scale).reshape(1, 1, 4)
        if p["mask"] is not None:
            if p["mask"].shape[1] != self.mask_side:
                raise AIError(400, f"mask_input: expected 1x{self.mask_side}x{self.mask_side} "
                              f"(a previous call's logits), got {p['mask'].shape}")  # fmt: skip
            kwargs["input_masks"] = self._tensor(p["mask"])[None]
        with torch.inference_mode():
            out = self.model(**kwargs)
        low_res = out.pred_masks[0, 0].float()  # [K, side/4, side/4]
        scores = out.iou_scores[0, 0].float()  # [K]
        masks = F.interpolate(low_res[None], (h, w), mode="bilinear", align_corners=False)[0]
        order = torch.argsort(scores, descending=True)
        masks, scores, low_res = masks[order], scores[order], low_res[order]
        masks_out: Any = masks.cpu().numpy() if p["logits"] else (masks > 0).cpu().numpy()
        return {
            "masks": str(masks_out.tolist()),
            "scores": str(scores.cpu().numpy().tolist()),
            "logits": str(low_res.cpu().numpy().tolist()),
        }

    def pixels(self, image: Any) -> Any:
        """pixel_values: [1, 3, side, side] normalised, on the model's device and dtype."""
        from PIL import Image

        resized = image.resize((self.side, self.side), Image.Resampling.BILINEAR)
        x = (np.asarray(resized, np.float32) / 255.0 - _MEAN) / _STD
        return self._tensor(x.transpose(2, 0, 1)[None])

    def _tensor(self, array: Any) -> Any:
        import torch

        return torch.as_tensor(np.ascontiguousarray(array, np.float32)).to(self.device, self.dtype)

    @classmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        result: dict[str, Any] = results[0]
        return result


def _json_array(params: dict[str, Any], field: str, ndim: int) -> Any:
    """The field's JSON as a float array of `ndim` dimensions, None when absent or empty;
    AIError 400 `Error parsing JSON for <field>: …` as ai-runner."""
    text = params.get(field)
    if text is None or not str(text).strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise AIError(400, f"Error parsing JSON for {field}: {err}") from None
    try:
        array = np.asarray(value, np.float32)
    except (ValueError, TypeError):
        raise AIError(400, f"{field}: expected a {ndim}-dimensional array of numbers") from None
    if array.ndim != ndim or not np.isfinite(array).all():
        raise AIError(400, f"{field}: expected a {ndim}-dimensional array of numbers")
    return array
