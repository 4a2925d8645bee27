"""The OpenAPI 3.1 schema of the batch AI routes, generated from `lpengine.ai.api.ROUTES`.

`python -m lpengine.ai.openapi > docs/openapi.json` regenerates the committed copy; a test fails
when the two drift. Names (operationIds, schemas, tag `generate`) are ai-runner's (ai-api.md §3).
"""

from __future__ import annotations

import json
from typing import Any

from lpengine.ai.api import ROUTES, Field, RouteSpec

_REF = "#/components/schemas/"


def _media() -> dict[str, Any]:
    return {
        "type": "object",
        "title": "Media",
        "required": ["url", "seed", "nsfw"],
        "properties": {
            "url": {"type": "string", "title": "Url", "description": "The URL of the media."},
            "seed": {"type": "integer", "title": "Seed", "description": "The seed used."},
            "nsfw": {"type": "boolean", "title": "Nsfw", "description": "Flagged as NSFW."},
        },
    }


RESPONSES: dict[str, dict[str, Any]] = {
    "Media": _media(),
    "ImageResponse": {
        "type": "object",
        "title": "ImageResponse",
        "required": ["images"],
        "properties": {"images": {"type": "array", "items": {"$ref": _REF + "Media"}}},
    },
    "Chunk": {
        "type": "object",
        "title": "Chunk",
        "required": ["timestamp", "text"],
        "properties": {
            "timestamp": {"type": "array", "items": {}, "title": "Timestamp"},
            "text": {"type": "string", "title": "Text"},
        },
    },
    "TextResponse": {
        "type": "object",
        "title": "TextResponse",
        "required": ["text", "chunks"],
        "properties": {
            "text": {"type": "string", "title": "Text"},
            "chunks": {"type": "array", "items": {"$ref": _REF + "Chunk"}},
        },
    },
    "ImageToTextResponse": {
        "type": "object",
        "title": "ImageToTextResponse",
        "required": ["text"],
        "properties": {"text": {"type": "string", "title": "Text"}},
    },
    "MediaURL": {
        "type": "object",
        "title": "MediaURL",
        "required": ["url"],
        "properties": {"url": {"type": "string", "title": "Url", "description": "The media."}},
    },
    "AudioResponse": {
        "type": "object",
        "title": "AudioResponse",
        "required": ["audio"],
        "properties": {"audio": {"$ref": _REF + "MediaURL"}},
    },
    "MasksResponse": {
        "type": "object",
        "title": "MasksResponse",
        "required": ["masks", "scores", "logits"],
        "properties": {
            "masks": {"type": "string", "title": "Masks", "description": "The masks."},
            "scores": {"type": "string", "title": "Scores", "description": "Their scores."},
            "logits": {"type": "string", "title": "Logits", "description": "Low-res logits."},
        },
    },
    "LLMMessage": {
        "type": "object",
        "title": "LLMMessage",
        "required": ["role", "content"],
        "properties": {
            "role": {"type": "string", "title": "Role"},
            "content": {"type": "string", "title": "Content"},
        },
    },
    "LLMTokenUsage": {
        "type": "object",
        "title": "LLMTokenUsage",
        "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
        "properties": {
            name: {"type": "integer", "title": name.replace("_", " ").title()}
            for name in ("prompt_tokens", "completion_tokens", "total_tokens")
        },
    },
    "LLMChoice": {
        "type": "object",
        "title": "LLMChoice",
        "required": ["index"],
        "properties": {
            "index": {"type": "integer", "title": "Index"},
            "finish_reason": {"type": "string", "title": "Finish Reason", "default": ""},
            "delta": {"$ref": _REF + "LLMMessage"},
            "message": {"$ref": _REF + "LLMMessage"},
        },
    },
    "LLMResponse": {
        "type": "object",
        "title": "LLMResponse",
        "required": ["id", "model", "created", "usage", "choices"],
        "properties": {
            "id": {"type": "string", "title": "Id"},
            "model": {"type": "string", "title": "Model"},
            "created": {"type": "integer", "title": "Created"},
            "usage": {"$ref": _REF + "LLMTokenUsage"},
            "choices": {"type": "array", "items": {"$ref": _REF + "LLMChoice"}},
        },
    },
    "APIError": {
        "type": "object",
        "title": "APIError",
        "required": ["msg"],
        "properties": {"msg": {"type": "string", "title": "Msg"}},
    },
    "HTTPError": {
        "type": "object",
        "title": "HTTPError",
        "required": ["detail"],
        "properties": {"detail": {"$ref": _REF + "APIError"}},
    },
    "ValidationError": {
        "type": "object",
        "title": "ValidationError",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
    },
    "HTTPValidationError": {
        "type": "object",
        "title": "HTTPValidationError",
        "properties": {"detail": {"type": "array", "items": {"$ref": _REF + "ValidationError"}}},
    },
}


def _property(f: Field) -> dict[str, Any]:
    title = " ".join(w.capitalize() for w in f.name.split("_"))
    if f.kind == "file":
        prop: dict[str, Any] = {"type": "string", "format": "binary"}
    elif f.kind == "messages":
        prop = {"type": "array", "items": {"$ref": _REF + "LLMMessage"}}
    elif f.default is None:
        prop = {"anyOf": [{"type": f.kind}, {"type": "null"}], "default": None}
    else:
        prop = {"type": f.kind}
        if not f.required:
            prop["default"] = f.default
    return {**prop, "title": title, "description": f.description}


def _body(spec: RouteSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "title": spec.body_schema,
        "required": [f.name for f in spec.fields if f.required],
        "properties": {f.name: _property(f) for f in spec.fields},
    }


def _operation(spec: RouteSpec) -> dict[str, Any]:
    content = "multipart/form-data" if spec.multipart else "application/json"
    error = {"content": {"application/json": {"schema": {"$ref": _REF + "HTTPError"}}}}
    return {
        "tags": ["generate"],
        "summary": spec.summary,
        "operationId": spec.operation_id,
        "requestBody": {
            "required": True,
            "content": {content: {"schema": {"$ref": _REF + spec.body_schema}}},
        },
        "responses": {
            "200": {
                "description": "Successful Response",
                "content": {"application/json": {"schema": {"$ref": _REF + spec.response}}},
            },
            "400": {"description": "Bad Request", **error},
            "413": {"description": "Request Entity Too Large", **error},
            "415": {"description": "Unsupported Media Type", **error},
            "422": {
                "description": "Validation Error",
                "content": {"application/json": {"schema": {"$ref": _REF + "HTTPValidationError"}}},
            },
            "500": {"description": "Internal Server Error", **error},
            "503": {"description": "insufficient capacity (text/plain)"},
        },
    }


def schema() -> dict[str, Any]:
    schemas = {s.body_schema: _body(s) for s in ROUTES.values()} | RESPONSES
    return {
        "openapi": "3.1.0",
        "info": {"title": "lpengine batch AI", "version": "0.1.0"},
        "servers": [{"url": "https://127.0.0.1:8935", "description": "an lpengine orchestrator"}],
        "paths": {s.path: {"post": _operation(s)} for s in ROUTES.values()},
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    return json.dumps(schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(render(), end="")
