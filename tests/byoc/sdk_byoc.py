"""Runs the livepeer-gateway SDK's submit_byoc_job; executed by the SDK's own Python (>= 3.12).

python sdk_byoc.py '{"url": "https://127.0.0.1:8935", "capability": "echo", "payload": {...}}'

Prints one JSON object: the response, or {"error": <type>, "message": <text>}.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from livepeer_gateway import submit_byoc_job
from livepeer_gateway.byoc import ByocJobRequest


def run(cmd: dict[str, Any]) -> dict[str, Any]:
    req = ByocJobRequest(
        capability=cmd["capability"], payload=cmd["payload"], timeout_seconds=cmd.get("timeout", 30)
    )
    resp = submit_byoc_job(req, orch_url=cmd["url"])
    return {
        "data": resp.data,
        "status_code": resp.status_code,
        "balance": resp.balance,
        "metadata": resp.headers.get("X-Metadata") or resp.headers.get("x-metadata"),
        "orchestrator_url": resp.orchestrator_url,
    }


if __name__ == "__main__":
    try:
        result = run(json.loads(sys.argv[1]))
    except Exception as err:
        result = {"error": type(err).__name__, "message": str(err)}
    print(json.dumps(result))
