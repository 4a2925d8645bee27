"""Runs the real livepeer-gateway SDK against a server; executed by the SDK's own Python (>= 3.12).

python sdk_client.py '{"do": "info", "url": "https://127.0.0.1:8935", "capability": 35, ...}'

Prints one JSON object: the result, or {"error": <type>, "message": <text>}.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from google.protobuf.json_format import MessageToDict
from livepeer_gateway import (
    CapabilityId,
    PaymentSession,
    build_capabilities,
    get_orch_info,
    orchestrator_selector,
)
from livepeer_gateway import lp_rpc_pb2 as sdk_pb
from proto_shape import describe  # this script's folder is on sys.path


def _caps(cmd: dict[str, Any]) -> Any:
    if "capability" not in cmd:
        return None
    return build_capabilities(CapabilityId(cmd["capability"]), cmd.get("model"))


def _info(info: Any) -> dict[str, Any]:
    doc = MessageToDict(info, preserving_proto_field_name=True)
    doc["_raw"] = {
        "token_len": len(info.auth_token.token),
        "address_hex": info.address.hex(),
        "has_price_info": info.HasField("price_info"),
        "has_ticket_params": info.HasField("ticket_params"),
    }
    return doc


def run(cmd: dict[str, Any]) -> Any:
    do = cmd["do"]
    if do == "info":
        return _info(get_orch_info(cmd["url"], capabilities=_caps(cmd)))
    if do == "select":
        cursor = orchestrator_selector(cmd["urls"], capabilities=_caps(cmd))
        url, info = cursor.next()
        rejected = [{"url": r.url, "reason": r.reason} for r in cursor.rejections]
        return {"url": url, "transcoder": info.transcoder, "rejections": rejected}
    if do == "pay":
        info = get_orch_info(cmd["url"])
        session = PaymentSession(None, info, type="lv2v")
        for _ in range(cmd.get("times", 1)):
            session.send_payment()  # raises PaymentError on any non-2xx answer
        return {"paid": cmd.get("times", 1), "session_id": info.auth_token.session_id}
    if do == "descriptor":
        return describe(sdk_pb.DESCRIPTOR)
    raise ValueError(f"unknown command {do!r}")


if __name__ == "__main__":
    try:
        result = run(json.loads(sys.argv[1]))
    except Exception as err:
        result = {"error": type(err).__name__, "message": str(err)}
    print(json.dumps(result))
