"""Audio in for audio-to-text: any container PyAV reads -> 16 kHz mono float32 (ai-api.md §2.5).

NOTE: decoded here rather than by faster-whisper, whose own decoder breaks under PyAV 19.
"""

from __future__ import annotations

import io

import av
import numpy as np

from lpengine.ai.errors import UNSUPPORTED_AUDIO, AIError

SAMPLE_RATE = 16_000


def decode_audio(data: bytes) -> np.ndarray:
    """samples: [N] float32 in [-1, 1), 16 kHz mono, host memory; AIError 415 if undecodable."""
    chunks: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AIError(415, UNSUPPORTED_AUDIO)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (av.FFmpegError, ValueError, IndexError):
        raise AIError(415, UNSUPPORTED_AUDIO) from None
    if not chunks:
        raise AIError(415, UNSUPPORTED_AUDIO)
    return np.concatenate(chunks).astype(np.float32) / 32768.0
