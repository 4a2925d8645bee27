"""Tiny random-weight models for tests, demos and benches, written in Hugging Face cache layout.

    from lpengine.testing import write_tiny_models
    write_tiny_models(models_dir)  # -> {"text-to-image": "lpengine-testing/tiny-sd", ...}

They load through the same loaders as real models (`lpengine.ai`), in seconds, with no network.
"""

from lpengine.testing.tiny_models import (
    TINY_MODELS,
    TINY_SD_LORA,
    hf_snapshot_dir,
    link_model,
    write_tiny_models,
)

__all__ = ["TINY_MODELS", "TINY_SD_LORA", "hf_snapshot_dir", "link_model", "write_tiny_models"]
