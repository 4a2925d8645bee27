"""text-to-speech (capability 36): a VITS voice through transformers' VitsModel (ai-api.md §2.9).

NOTE: ai-runner serves Parler-TTS, whose package does not load with the transformers installed
here; VITS (e.g. facebook/mms-tts-eng) is the text-to-waveform family transformers itself runs.
It has one voice per model, so `description` (Parler's speaker steering) is accepted and unused.
The answer is the runner's: a 44.1 kHz 16-bit mono WAV as a `data:audio/wav` URL.
"""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lpengine.ai.errors import AIError
from lpengine.ai.pipelines.base import Item, Prepared
from lpengine.ai.pipelines.pretrained import PretrainedPipeline
from lpengine.ai.runtime import Optimizations
from lpengine.capabilities import Capability

SAMPLE_RATE = 44_100
MAX_CHARS = 10_000  # past this one request holds the model for minutes


class TextToSpeech(PretrainedPipeline):
    name = "text-to-speech"
    capability = Capability.TEXT_TO_SPEECH
    batchable = False

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        self.model = self.load_model("VitsModel")  # NOTE: no dtype: VITS loads as saved
        self.tokenizer = self.pretrained("AutoTokenizer")

    @property
    def dtype(self) -> Any:
        """float32 on every device: VITS loads as saved (fp16 is untested here)."""
        import torch

        return torch.float32

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        text: str = params["text"]
        if not text.strip():
            raise AIError(400, "Text input must be provided.")
        if len(text) > MAX_CHARS:
            raise AIError(400, f"text: at most {MAX_CHARS} characters, got {len(text)}")
        # NOTE: never batched (batchable = False): waveform lengths differ.
        return Prepared(1000 * len(text), (Item(object(), {"text": text}),))

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        return [self._speak(item.inputs["text"]) for item in items]

    def _speak(self, text: str) -> bytes:
        import torch

        inputs = self.tokenizer(text, return_tensors="pt").to(self.device)
        if inputs["input_ids"].shape[1] == 0:
            raise AIError(400, "text: nothing the voice can pronounce")
        with torch.inference_mode():
            waveform = self.model(**inputs).waveform[0].float().cpu().numpy()
        return wav(resample(waveform, int(self.model.config.sampling_rate), SAMPLE_RATE))

    @classmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        (audio,) = results
        return {"audio": {"url": "data:audio/wav;base64," + base64.b64encode(audio).decode()}}


def resample(samples: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """samples: [N] float32 at `rate` -> float32 at `to_rate` (libswresample through PyAV)."""
    import av

    if rate == to_rate:
        return samples.astype(np.float32)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, np.float32)[None], format="flt", layout="mono"
    )
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=to_rate)
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def wav(samples: np.ndarray) -> bytes:
    """16-bit mono PCM WAV at SAMPLE_RATE."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()
