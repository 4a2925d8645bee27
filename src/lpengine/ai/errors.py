"""The errors of AI work and how they map to statuses (ai-api.md §1.1).

Pipelines raise `AIError` for what they refuse (400 with ai-runner's text) and let anything
else escape; `classify` turns an escaped exception into the status and message ai-runner gives
for it: out-of-memory is 500 with the route's OOM text, a failure inside the model is 500 with
the route's default text, and the cause goes to the log, never to the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

# Route default messages (ai-runner's routes) and their out-of-memory overrides.
DEFAULT_MESSAGES = {
    "text-to-image": "Text-to-image pipeline error.",
    "image-to-image": "Image-to-image pipeline error.",
    "image-to-video": "Image-to-video pipeline error.",
    "upscale": "Upscale pipeline error.",
    "audio-to-text": "Audio-to-text pipeline error.",
    "segment-anything-2": "Segment-anything-2 pipeline error.",
    "image-to-text": "Image-to-text pipeline error.",
    "text-to-speech": "Text-to-speech pipeline error.",
}
OOM_MESSAGES = {
    "text-to-image": "Out of memory error. Try reducing output image resolution.",
    "image-to-image": "Out of memory error. Try reducing input image resolution.",
    "upscale": "Out of memory error. Try reducing input image resolution.",
    "image-to-video": "Out of memory error. Try reducing input or output video resolution.",
    "segment-anything-2": "Out of memory error. Try reducing input image resolution.",
    "image-to-text": "Out of memory error. Try reducing input image resolution.",
    "text-to-speech": "Out of memory error. Try reducing text input length.",
}
UNSUPPORTED_AUDIO = "Unsupported audio format or malformed file."


class AIError(Exception):
    """A refusal with its HTTP status and ai-runner's message (`{"detail":{"msg": …}}`)."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg


class OutOfMemory(Exception):
    """A model does not fit in the memory left, even after evicting idle models."""


@dataclass(frozen=True)
class Failure:
    status: int
    msg: str
    oom: bool


def is_oom(err: BaseException) -> bool:
    """torch.OutOfMemoryError (CUDA), our own OutOfMemory, or an allocator's failure text."""
    if isinstance(err, OutOfMemory) or type(err).__name__ == "OutOfMemoryError":
        return True
    text = str(err).lower()
    return "out of memory" in text or "can't allocate memory" in text


def classify(err: BaseException, pipeline: str) -> Failure:
    """ai-runner's lookup: the exception's type first, then substrings, then the default."""
    if isinstance(err, AIError):
        return Failure(err.status, err.msg, oom=False)
    if pipeline == "llm":  # ai-runner's llm route answers every failure alike
        return Failure(500, "Internal server error during LLM processing.", oom=is_oom(err))
    if is_oom(err):
        if type(err).__name__ == "OutOfMemoryError" or isinstance(err, OutOfMemory):
            return Failure(500, OOM_MESSAGES.get(pipeline, "GPU out of memory."), oom=True)
        return Failure(500, "Out of memory.", oom=True)
    if type(err).__name__ in ("LoraLoadingError", "InferenceError"):
        return Failure(400, f"{err}.", oom=False)
    return Failure(500, DEFAULT_MESSAGES.get(pipeline, "Internal server error."), oom=False)
