"""One module per pipeline; `PIPELINES` maps a pipeline name to its class."""

from __future__ import annotations

from lpengine.ai.pipelines.audio_to_text import AudioToText
from lpengine.ai.pipelines.base import Item, Pipeline, Prepared
from lpengine.ai.pipelines.image_to_image import ImageToImage
from lpengine.ai.pipelines.image_to_text import ImageToText
from lpengine.ai.pipelines.image_to_video import ImageToVideo
from lpengine.ai.pipelines.llm import LLM
from lpengine.ai.pipelines.segment_anything_2 import SegmentAnything2
from lpengine.ai.pipelines.text_to_image import TextToImage
from lpengine.ai.pipelines.text_to_speech import TextToSpeech
from lpengine.ai.pipelines.upscale import Upscale

PIPELINES: dict[str, type[Pipeline]] = {
    p.name: p
    for p in (
        TextToImage,
        ImageToImage,
        Upscale,
        AudioToText,
        ImageToText,
        LLM,
        SegmentAnything2,
        ImageToVideo,
        TextToSpeech,
    )
}

__all__ = ["PIPELINES", "Item", "Pipeline", "Prepared"]
