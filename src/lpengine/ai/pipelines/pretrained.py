"""What the transformers pipelines share: a model (and its tokenizer) from the snapshot folder
only (never the hub), on the device in eval mode, whose memory is its weight files' size."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from lpengine.ai.errors import AIError
from lpengine.ai.images import image_size
from lpengine.ai.model_dir import weights_bytes
from lpengine.ai.pipelines.base import Pipeline
from lpengine.ai.runtime import Optimizations

MAX_IMAGE_BYTES = 50 << 20  # an uploaded image (ai-runner's limit)


class PretrainedPipeline(Pipeline):
    """A pipeline around one transformers model, `model`: what compiling acts on."""

    model: Any

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        self._bytes = weights_bytes(folder)

    def pretrained(self, class_name: str, **kwargs: Any) -> Any:
        """transformers' `class_name`.from_pretrained on the snapshot folder only."""
        # NOTE: transformers' stubs type from_pretrained oddly; the models are used as Any.
        t: Any = importlib.import_module("transformers")
        return getattr(t, class_name).from_pretrained(
            str(self.folder), local_files_only=True, **kwargs
        )

    def load_model(self, class_name: str, **kwargs: Any) -> Any:
        """`pretrained(class_name, **kwargs)` moved to the device, in eval mode."""
        model = self.pretrained(class_name, **kwargs)
        model.to(self.device).eval()
        return model

    def compile_targets(self) -> list[Any]:
        return [self.model]

    @property
    def memory_bytes(self) -> int:
        return self._bytes


def upload_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an uploaded image from its header; AIError 413 past MAX_IMAGE_BYTES."""
    if len(data) > MAX_IMAGE_BYTES:
        raise AIError(413, "File size exceeds limit")
    return image_size(data)
