"""The batch AI routes' request contract (ai-api.md §2): fields, types, defaults, parsing.

One table drives both the parsing of requests (JSON bodies or multipart forms) and the OpenAPI
schema (`lpengine.ai.openapi`), so the two cannot disagree. Parsing follows FastAPI's rules as
ai-runner serves them: a missing required field or a value of the wrong type is a 422 whose
`detail` lists `{"loc": ["body", <field>], "msg": …, "type": …}`; form values arrive as text and
are converted (`"true"`, `"1"`, `"7.5"`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["string", "integer", "number", "boolean", "file", "messages"]
REQUIRED: Any = object()  # the default of a required field


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    default: Any = REQUIRED
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class RouteSpec:
    pipeline: str
    operation_id: str
    summary: str
    multipart: bool
    fields: tuple[Field, ...]
    response: str  # a schema name in lpengine.ai.openapi
    body_name: str = ""  # the body schema's name where ai-runner's is not the usual one

    @property
    def path(self) -> str:
        return f"/{self.pipeline}"

    @property
    def body_schema(self) -> str:
        if self.body_name:
            return self.body_name
        if self.multipart:
            return f"Body_{self.operation_id}"
        return "".join(p.capitalize() for p in self.pipeline.split("-")) + "Params"


_MODEL_ID = Field("model_id", "string", "", "Hugging Face model ID used for the job.")
_LORAS = Field("loras", "string", "", 'LoRA adapters as JSON: {"<hf repo>": <weight>, …}.')
_SAFETY = Field("safety_check", "boolean", True, "Run the safety checker on the output.")
_SEED = Field("seed", "integer", None, "Seed for random number generation.")

ROUTES: dict[str, RouteSpec] = {
    s.pipeline: s
    for s in (
        RouteSpec("text-to-image", "genTextToImage", "Text To Image", False, (
            Field("model_id", "string", "", "Hugging Face model ID used for image generation."),
            _LORAS,
            Field("prompt", "string", description="Text prompt(s) to guide image generation; "
                  "up to 4 parts separated by '|'."),
            Field("height", "integer", 576, "The height in pixels of the generated image."),
            Field("width", "integer", 1024, "The width in pixels of the generated image."),
            Field("guidance_scale", "number", 7.5, "How closely images follow the prompt."),
            Field("negative_prompt", "string", "", "What to leave out of the image."),
            _SAFETY, _SEED,
            Field("num_inference_steps", "integer", 50, "Denoising steps."),
            Field("num_images_per_prompt", "integer", 1, "Images to generate per prompt."),
        ), "ImageResponse"),
        RouteSpec("image-to-image", "genImageToImage", "Image To Image", True, (
            Field("prompt", "string", description="Text prompt(s) to guide image generation."),
            Field("image", "file", description="Uploaded image to modify with the pipeline."),
            _MODEL_ID, _LORAS,
            Field("strength", "number", 0.8, "How much to transform the image (0 to 1)."),
            Field("guidance_scale", "number", 7.5, "How closely images follow the prompt."),
            Field("image_guidance_scale", "number", 1.5, "How closely images follow the input."),
            Field("negative_prompt", "string", "", "What to leave out of the image."),
            _SAFETY, _SEED,
            Field("num_inference_steps", "integer", 100, "Denoising steps."),
            Field("num_images_per_prompt", "integer", 1, "Images to generate per prompt."),
        ), "ImageResponse"),
        RouteSpec("image-to-video", "genImageToVideo", "Image To Video", True, (
            Field("image", "file", description="Uploaded image to generate a video from."),
            _MODEL_ID,
            Field("height", "integer", 576, "The height in pixels of the generated video."),
            Field("width", "integer", 1024, "The width in pixels of the generated video."),
            Field("fps", "integer", 6, "The frames per second of the generated video."),
            Field("motion_bucket_id", "integer", 127, "Conditions the amount of motion."),
            Field("noise_aug_strength", "number", 0.02, "Noise added to the conditioning image."),
            _SAFETY, _SEED,
            Field("num_inference_steps", "integer", 25, "Denoising steps."),
        ), "ImageResponse"),
        RouteSpec("upscale", "genUpscale", "Upscale", True, (
            Field("prompt", "string", description="Text prompt(s) to guide upscaled generation."),
            Field("image", "file", description="Uploaded image to upscale (4x)."),
            _MODEL_ID, _SAFETY,
            Field("seed", "integer", None, "Seed for random number generation (0: random)."),
            Field("num_inference_steps", "integer", 75, "Denoising steps."),
        ), "ImageResponse"),
        RouteSpec("audio-to-text", "genAudioToText", "Audio To Text", True, (
            Field("audio", "file", description="Uploaded audio file to be transcribed."),
            _MODEL_ID,
            Field("return_timestamps", "string", "true",
                  "true/1/sentence: segment timestamps; false/0: none; word: per word."),
            Field("metadata", "string", "{}", 'JSON with "duration" in seconds (optional).'),
        ), "TextResponse"),
        RouteSpec("llm", "genLLM", "LLM", False, (
            Field("messages", "messages", description="The chat: {role, content} objects, role "
                  "system, user or assistant."),
            Field("model", "string", "", "The model ID (selects the price and capacity)."),
            Field("temperature", "number", 0.7, "Sampling temperature, 0..2 (0: greedy)."),
            Field("max_tokens", "integer", None, "Most tokens to generate (the pricing unit; "
                  "required by orchestrators)."),
            Field("top_p", "number", 1.0, "Nucleus sampling mass, 0..1."),
            Field("top_k", "integer", -1, "Top-k sampling (-1: off)."),
            Field("stream", "boolean", False, "Server-sent events, one per piece of text."),
        ), "LLMResponse", body_name="LLMRequest"),
        RouteSpec("segment-anything-2", "genSegmentAnything2", "Segment Anything 2", True, (
            Field("image", "file", description="Image to segment."),
            _MODEL_ID,
            Field("point_coords", "string", None, "JSON N x 2 array of point prompts (X, Y) in "
                  "pixels."),
            Field("point_labels", "string", None, "JSON array of N labels: 1 foreground, 0 "
                  "background."),
            Field("box", "string", None, "JSON box prompt [x1, y1, x2, y2] in pixels."),
            Field("mask_input", "string", None, "JSON 1 x H x W low-resolution mask logits from a "
                  "previous call."),
            Field("multimask_output", "boolean", True, "Three masks for ambiguous prompts."),
            Field("return_logits", "boolean", True, "Masks as logits rather than booleans."),
            Field("normalize_coords", "boolean", True, "Coordinates are pixels (false: already "
                  "in [0, 1])."),
        ), "MasksResponse"),
        RouteSpec("text-to-speech", "genTextToSpeech", "Text To Speech", False, (
            _MODEL_ID,
            Field("text", "string", "", "Text input for speech generation."),
            Field("description", "string", "A male speaker delivers a slightly expressive and "
                  "animated speech with a moderate speed and pitch.",
                  "Description of the speaker's voice (Parler-TTS models)."),
        ), "AudioResponse"),
        RouteSpec("image-to-text", "genImageToText", "Image To Text", True, (
            Field("image", "file", description="Uploaded image to transform with the pipeline."),
            Field("prompt", "string", "", "Text prompt(s) to guide transformation."),
            _MODEL_ID,
        ), "ImageToTextResponse"),
    )
}  # fmt: skip


class ValidationError(Exception):
    """A 422: `detail` is FastAPI's list of {loc, msg, type}."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{d['loc'][-1]}: {d['msg']}" for d in detail))
        self.detail = detail


def parse(spec: RouteSpec, values: Mapping[str, Any], form: bool) -> dict[str, Any]:
    """Every field of `spec` from `values` (a JSON object, or form fields whose files are
    bytes), converted and with defaults filled in; raises ValidationError."""
    out: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for f in spec.fields:
        raw = values.get(f.name)
        if raw is None:
            if f.required:
                errors.append(_error(f, "Field required", "missing"))
            else:
                out[f.name] = f.default
            continue
        try:
            out[f.name] = _convert(f, raw, form)
        except ValueError as err:
            errors.append(_error(f, *err.args))
    if errors:
        raise ValidationError(errors)
    return out


def _error(f: Field, msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["body", f.name], "msg": msg, "type": kind}


def _convert(f: Field, raw: Any, form: bool) -> Any:
    if f.kind == "file":
        if not isinstance(raw, bytes):
            raise ValueError("Expected UploadFile, received: " + type(raw).__name__, "value_error")
        return raw
    if isinstance(raw, bytes):
        raise ValueError(f"Input should be a valid {f.kind}", f"{f.kind}_type")
    if f.kind == "messages":
        return _messages(raw)
    if f.kind == "string":
        if not isinstance(raw, str):
            raise ValueError("Input should be a valid string", "string_type")
        return raw
    if f.kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if form and isinstance(raw, str) and raw.lower() in _BOOLS:
            return _BOOLS[raw.lower()]
        raise ValueError("Input should be a valid boolean", "bool_parsing")
    if f.kind == "integer":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if form and isinstance(raw, str):
            try:
                return int(raw.strip())
            except ValueError:
                pass
        raise ValueError("Input should be a valid integer", "int_parsing")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if form and isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            pass
    raise ValueError("Input should be a valid number", "float_parsing")


def _messages(raw: Any) -> list[dict[str, str]]:
    """LLMRequest.messages: a list of {"role": str, "content": str}."""
    if not isinstance(raw, list):
        raise ValueError("Input should be a valid list", "list_type")
    for i, m in enumerate(raw):
        if not (isinstance(m, dict) and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str)):  # fmt: skip
            raise ValueError(
                f"messages[{i}]: expected an object with string role and content", "model_type"
            )
    return [{"role": m["role"], "content": m["content"]} for m in raw]


_BOOLS = {"true": True, "1": True, "yes": True, "on": True,
          "false": False, "0": False, "no": False, "off": False}  # fmt: skip
