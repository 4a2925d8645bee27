"""AI results stored at the orchestrator for gateways to download (ai-api.md §4).

go's orchestrator stores the media its AI pipelines produce and answers URLs to them:
text-to-image, image-to-image, upscale and image-to-video images, and text-to-speech audio,
at `<serviceURI>/stream/<requestID>/<name>.<ext>`, fetchable for 10 minutes. Gateways older than
v0.7.9-ai.3 (no `Authorization: Livepeer-AI-Worker-1.0` on the request) get the images of
text-to-image, image-to-image and upscale back as `data:image/png;base64,…` URLs instead, so
for them nothing is stored; image-to-video and text-to-speech are stored for every gateway.

    body = store_results(body, "text-to-image", store, "https://o.example:8935", new_request_id())
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from lpengine.media.store import RenditionStore

AI_WORKER_PROTOCOL = "Livepeer-AI-Worker-1.0"  # go's protoVerAIWorker
RESULTS_TTL_S = 600.0  # go keeps AI results 10 minutes
DEFAULT_RESULTS_BYTES = 1 << 30
IMAGE_PIPELINES = frozenset({"text-to-image", "image-to-image", "upscale"})
STORED_PIPELINES = IMAGE_PIPELINES | {"image-to-video", "text-to-speech"}
_EXTENSIONS = {"image/png": ".png", "video/mp4": ".mp4", "audio/wav": ".wav"}


def stores_results(pipeline: str, authorization: str) -> bool:
    """Whether `pipeline`'s answer to a gateway sending this `Authorization` carries stored URLs."""
    if pipeline in IMAGE_PIPELINES:
        return authorization == AI_WORKER_PROTOCOL
    return pipeline in STORED_PIPELINES


def new_request_id() -> str:
    return secrets.token_hex(8)


def store_results(
    body: dict[str, Any], pipeline: str, store: RenditionStore, base_url: str, request_id: str
) -> dict[str, Any]:
    """`body` with each media data URL replaced by the URL of its stored bytes. Raises
    ValueError when a URL is not a base64 data URL of a known type, or the store is full."""
    entries = body["audio"] if pipeline == "text-to-speech" else body["images"]
    for entry in [entries] if isinstance(entries, dict) else entries:
        media, data = _decode(entry["url"])
        key = f"{request_id}/{secrets.token_hex(8)}{_EXTENSIONS[media]}"
        if not store.put(key, data):
            raise ValueError(f"result of {len(data)} bytes exceeds the results store")
        entry["url"] = f"{base_url.rstrip('/')}/stream/{key}"
    return body


def _decode(url: str) -> tuple[str, bytes]:
    head, sep, payload = url.partition(",")
    media = head.removeprefix("data:").removesuffix(";base64")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise ValueError(f"result URL: expected a base64 data URL, got {url[:40]!r}")
    if media not in _EXTENSIONS:
        raise ValueError(f"result URL: unexpected media type {media!r}")
    try:
        return media, base64.b64decode(payload, validate=True)
    except binascii.Error as err:
        raise ValueError(f"result URL: bad base64 ({err})") from None
