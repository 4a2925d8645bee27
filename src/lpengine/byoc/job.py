"""What a gateway sends with BYOC calls: the `Livepeer` JobRequest and `Livepeer-Eth-Address`.

Both are base64 (standard, padded) JSON (protocol.md §4.8). A JobRequest is signed by its sender
over `request + parameters`, the eth-address header over its `addr` string: EIP-191 over the
keccak256 of the text, as go's `VerifySig`. Refusals carry go's text and status.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

# go's texts (byoc/types.go, job_orchestrator.go).
NO_JOB_CREDS = "Could not verify job creds"
NO_TIMEOUT = "no timeout_seconds set with request, timeout_seconds is required"
NO_CAPACITY = "No capacity available for capability"
NO_JOB_PRICE = "Could not get job price"
INSUFFICIENT_BALANCE = "Insufficient balance for request"
NO_ETH_ADDRESS = "Must have eth address and signature on address in Livepeer-Eth-Address header"
BAD_ETH_ADDRESS = "Invalid eth address header "
NO_CAPABILITY = (
    "Job capabilities not provided, must provide comma separated capabilities in "
    "Livepeer-Capability header"
)


class JobRefused(Exception):
    """A BYOC call refused: the HTTP status and go's text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass(frozen=True)
class JobRequest:
    """The plain form of the `Livepeer` header."""

    id: str
    request: str  # JSON text of an object: what the job is about
    parameters: str  # JSON text (gateway-side selection and worker options), may be ""
    capability: str
    sender: str  # 0x-hex address; "" off-chain (the SDK signs only through a remote signer)
    sig: str  # hex, optional 0x
    timeout_s: int  # timeout_seconds: required, > 0

    @property
    def signed_text(self) -> bytes:
        return (self.request + self.parameters).encode("utf-8")


@dataclass(frozen=True)
class JobSender:
    """The plain form of `Livepeer-Eth-Address`: {addr, sig} (sig over the addr text)."""

    addr: str
    sig: str


def _json_header(header: str) -> dict[str, Any]:
    try:
        doc = json.loads(base64.b64decode(header.strip(), validate=True))
    except (binascii.Error, ValueError) as err:  # JSONDecodeError and UnicodeError are too
        raise ValueError(f"not base64 JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
    return doc


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {value!r}")
    return value


def parse_job_request(header: str) -> JobRequest:
    """The `Livepeer` header; raises ValueError (answered 400 `Could not verify job creds`)."""
    doc = _json_header(header)
    timeout = doc.get("timeout_seconds", 0)
    if timeout is None:
        timeout = 0
    # NOTE: go decodes timeout_seconds into an int: 1.5, "10" or true fail to decode.
    if not isinstance(timeout, int) or isinstance(timeout, bool):
        raise ValueError(f"timeout_seconds: expected an integer, got {timeout!r}")
    return JobRequest(
        id=_text(doc, "id"),
        request=_text(doc, "request"),
        parameters=_text(doc, "parameters"),
        capability=_text(doc, "capability"),
        sender=_text(doc, "sender"),
        sig=_text(doc, "sig"),
        timeout_s=timeout,
    )


def parse_job_sender(header: str) -> JobSender:
    """`Livepeer-Eth-Address`; raises ValueError (answered 400 `Invalid eth address header`)."""
    doc = _json_header(header)
    return JobSender(addr=_text(doc, "addr"), sig=_text(doc, "sig"))


def signature_bytes(sig: str) -> bytes:
    """A hex signature, optionally 0x-prefixed; raises ValueError."""
    body = sig[2:] if sig[:2] in ("0x", "0X") else sig
    return bytes.fromhex(body)


def request_object(job: JobRequest) -> dict[str, Any]:
    """`request` parsed: it must be a JSON object (go unmarshals it into a struct)."""
    try:
        doc = json.loads(job.request)
    except json.JSONDecodeError as err:
        raise JobRefused(400, f"Unable to unmarshal job request details err={err}") from None
    if not isinstance(doc, dict):
        raise JobRefused(
            400,
            "Unable to unmarshal job request details err=json: cannot unmarshal "
            f"{type(doc).__name__} into Go value of type byoc.JobRequestDetails",
        )
    return doc
