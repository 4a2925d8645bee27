"""audio-to-text (capability 31): Whisper through faster-whisper (CTranslate2), the runner's
`BACKEND=faster-whisper` (ai-api.md §2.5). The model folder is a CTranslate2 conversion
(model.bin, config.json, tokenizer.json), in HF cache layout like every model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lpengine.ai.audio import SAMPLE_RATE, decode_audio
from lpengine.ai.errors import AIError
from lpengine.ai.model_dir import weights_bytes
from lpengine.ai.pipelines.base import Item, Pipeline, Prepared
from lpengine.ai.runtime import Optimizations
from lpengine.capabilities import Capability

MAX_AUDIO_BYTES = 50 << 20
MAX_WORD_TIMESTAMPS_S = 3600
_MODES = {"true": "segment", "1": "segment", "sentence": "segment",
          "false": "none", "0": "none", "word": "word"}  # fmt: skip
NO_DURATION = "Unable to calculate duration of file"


class AudioToText(Pipeline):
    name = "audio-to-text"
    capability = Capability.AUDIO_TO_TEXT

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        from faster_whisper import WhisperModel

        cuda = device.startswith("cuda")
        # NOTE: CTranslate2's compute types: int8 is its fast CPU path (ai-runner's choice too).
        self.compute_type = self.dtype_name if cuda else "int8"
        self.model = WhisperModel(
            str(folder),
            device="cuda" if cuda else "cpu",
            compute_type=self.compute_type,
            local_files_only=True,
        )
        self._bytes = weights_bytes(folder)

    @property
    def dtype_name(self) -> str:
        return str(getattr(self, "compute_type", None) or super().dtype_name)

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        data: bytes = params["audio"]
        if len(data) > MAX_AUDIO_BYTES:
            raise AIError(413, "File size exceeds limit.")
        mode = _MODES.get(params["return_timestamps"].strip().lower())
        if mode is None:
            raise AIError(
                400, "return_timestamps: expected true, false, 1, 0, sentence or word, got "
                f"{params['return_timestamps']!r}",
            )  # fmt: skip
        samples = decode_audio(data)
        duration_s = _duration(params["metadata"], len(samples) / SAMPLE_RATE)
        if int(duration_s) < 1:
            raise AIError(400, NO_DURATION)
        if mode == "word" and duration_s > MAX_WORD_TIMESTAMPS_S:
            raise AIError(400, "Word timestamps are limited to audio of at most 3600 seconds.")
        item = Item(("audio", mode), {"samples": samples, "mode": mode})
        return Prepared(1000 * int(duration_s), (item,))

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        del pad_to  # NOTE: faster-whisper batches the 30 s windows of one file, not files
        return [self._transcribe(it.inputs["samples"], it.inputs["mode"]) for it in items]

    def _transcribe(self, samples: Any, mode: str) -> dict[str, Any]:
        segments, _ = self.model.transcribe(
            samples, beam_size=5, word_timestamps=mode == "word", vad_filter=False
        )
        chunks: list[dict[str, Any]] = []
        texts = []
        for seg in segments:
            texts.append(seg.text)
            if mode == "segment":
                chunks.append({"timestamp": [seg.start, seg.end], "text": seg.text})
            elif mode == "word":
                chunks += [{"timestamp": [w.start, w.end], "text": w.word} for w in seg.words]
        return {"text": "".join(texts), "chunks": chunks}

    @classmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        result: dict[str, Any] = results[0]
        return result

    @property
    def memory_bytes(self) -> int:
        return self._bytes


def _duration(metadata: str, decoded_s: float) -> float:
    """`duration` from the metadata JSON when given, else the decoded length."""
    try:
        meta = json.loads(metadata or "{}")
    except json.JSONDecodeError:
        raise AIError(400, NO_DURATION) from None
    if not isinstance(meta, dict):
        raise AIError(400, NO_DURATION)
    value = meta.get("duration")
    if value is None:
        return decoded_s
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise AIError(400, NO_DURATION)
    return float(value)
