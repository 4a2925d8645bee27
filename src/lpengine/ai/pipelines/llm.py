"""llm (capability 33): chat completion with a transformers causal LM (ai-api.md §2.7).

The runner serves LLMs with vLLM; here the model folder is loaded by
AutoModelForCausalLM / AutoTokenizer and the messages are rendered by the tokenizer's chat
template. Every refusal and failure is ai-runner's one 500 `Internal server error during LLM
processing.` (the cause goes to the log). `stream` sends each new piece of text to the item's
`on_text` callback as it is generated (the route turns them into server-sent events).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpengine.ai.errors import AIError
from lpengine.ai.pipelines.base import Item, Prepared
from lpengine.ai.pipelines.pretrained import PretrainedPipeline
from lpengine.ai.runtime import Optimizations
from lpengine.capabilities import Capability

log = logging.getLogger(__name__)
LLM_ERROR = "Internal server error during LLM processing."
ROLES = ("system", "user", "assistant")
OnText = Callable[[str], None]


@dataclass(frozen=True)
class Generated:
    text: str
    prompt_tokens: int
    completion_tokens: int


class LLM(PretrainedPipeline):
    name = "llm"
    capability = Capability.LLM
    batchable = False

    def __init__(self, folder: Path, device: str, options: Optimizations | None = None) -> None:
        super().__init__(folder, device, options)
        self.model = self.load_model("AutoModelForCausalLM", dtype=self.dtype)
        self.tokenizer = self.pretrained("AutoTokenizer")
        self.context = int(getattr(self.model.config, "max_position_embeddings", 0) or 1 << 30)

    @classmethod
    def prepare(cls, params: dict[str, Any]) -> Prepared:
        messages = params["messages"]
        if not messages:
            raise _refused("messages: expected at least one message")
        for m in messages:
            if m["role"] not in ROLES:
                raise _refused(f"messages: role {m['role']!r} is not one of {', '.join(ROLES)}")
        if params["max_tokens"] is None:
            raise AIError(400, "MaxTokens not specified")  # NOTE: go's O text; the price unit
        checks = (
            ("max_tokens", params["max_tokens"] >= 1, ">= 1"),
            ("temperature", 0 <= params["temperature"] <= 2, "0..2"),
            ("top_p", 0 < params["top_p"] <= 1, "in (0, 1]"),
            ("top_k", params["top_k"] == -1 or params["top_k"] >= 1, "-1 or >= 1"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise _refused(f"{name}: expected {expected}, got {params[name]}")
        # NOTE: never batched (batchable = False): decoding needs continuous batching.
        item = Item(object(), dict(params))
        return Prepared(int(params["max_tokens"]), (item,), context=params["model"])

    def run(self, items: Sequence[Item], pad_to: int) -> list[Any]:
        return [self.generate(item.inputs) for item in items]

    def generate(self, p: dict[str, Any]) -> Generated:
        import torch

        t: Any = importlib.import_module("transformers")

        messages = [{"role": m["role"], "content": m["content"]} for m in p["messages"]]
        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        if prompt_tokens >= self.context:
            raise AIError(500, LLM_ERROR)
        kwargs: dict[str, Any] = {
            **inputs,
            "max_new_tokens": min(int(p["max_tokens"]), self.context - prompt_tokens),
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if p["temperature"] > 0:
            kwargs |= {"do_sample": True, "temperature": p["temperature"], "top_p": p["top_p"],
                       "top_k": p["top_k"] if p["top_k"] > 0 else 0}  # fmt: skip
        else:
            kwargs["do_sample"] = False
        on_text: OnText | None = p.get("on_text")
        if on_text is None:
            with torch.inference_mode():
                out = self.model.generate(**kwargs)
            new = out[0, prompt_tokens:]
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            return Generated(text, prompt_tokens, _completion_tokens(new, self.tokenizer))
        streamer = t.TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                with torch.inference_mode():
                    result["out"] = self.model.generate(**kwargs, streamer=streamer)
            except BaseException as err:
                result["error"] = err
                streamer.end()

        worker = threading.Thread(target=work, name="llm generate", daemon=True)
        worker.start()
        pieces = []
        for piece in streamer:
            if piece:
                pieces.append(piece)
                on_text(piece)
        worker.join()
        if "error" in result:
            raise result["error"]
        new = result["out"][0, prompt_tokens:]
        return Generated("".join(pieces), prompt_tokens, _completion_tokens(new, self.tokenizer))

    @classmethod
    def respond(cls, prepared: Prepared, results: list[Any]) -> dict[str, Any]:
        (g,) = results
        return response(str(prepared.context), g.prompt_tokens, g.completion_tokens,
                        {"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": g.text}})  # fmt: skip


def response(
    model: str, prompt_tokens: int, completion_tokens: int, choice: dict[str, Any], id_: str = ""
) -> dict[str, Any]:
    """An LLMResponse (ai-api.md §3) with one choice."""
    return {
        "id": id_ or f"chatcmpl-{uuid.uuid4()}",
        "model": model,
        "created": int(time.time()),
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "choices": [choice],
    }


def _completion_tokens(new: Any, tokenizer: Any) -> int:
    """Generated tokens up to and including the end of text (padding after it not counted)."""
    ids = [int(i) for i in new]
    eos = tokenizer.eos_token_id
    return ids.index(eos) + 1 if eos in ids else len(ids)


def _refused(why: str) -> AIError:
    """ai-runner answers every refusal with its one 500 text; the reason goes to the log."""
    log.warning("llm request refused: %s", why)
    return AIError(500, LLM_ERROR)
