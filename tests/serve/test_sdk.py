"""Acceptance: the real livepeer-gateway 1.0.0 SDK, in its own venv and process, discovers,
quotes, selects and pays a `python -m lpengine.serve` subprocess (protocol.md §12)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lpengine.capabilities import Capability, decode_bitstring
from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess, free_port
from tests.serve.proto_shape import describe

pytestmark = [pytest.mark.net, pytest.mark.slow]

# 1000 wei per 3 pixels, truncated to 3 decimals of wei as quotes are: 333.333 = 333333/1000.
PRICE = ("-pricePerUnit", "1000", "-pixelsPerUnit", "3")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")), "-monitor", *PRICE)
    yield srv
    srv.stop()


def _check_token(info: dict[str, Any]) -> None:
    token = info["auth_token"]
    assert info["_raw"]["token_len"] == 32
    assert len(token["session_id"]) == 8 and int(token["session_id"], 16) >= 0
    assert abs(int(token["expiration"]) - (time.time() + 1800)) < 60


def test_get_orch_info(server, sdk):
    info = sdk(do="info", url=server.url)
    assert "error" not in info, info
    assert info["transcoder"] == server.url  # https://host:port, no path (§12.1)
    _check_token(info)
    caps = info["capabilities"]
    assert caps["version"]  # non-empty (§12.4)
    assert not caps.get("mandatories")  # a non-empty list fails every SDK request (§3.2)
    bits = decode_bitstring(int(w) for w in caps["bitstring"])
    assert {Capability.H264, Capability.MPEGTS, Capability.AUTH_TOKEN} <= bits
    assert Capability.STORAGE_S3 not in bits  # nothing that cannot run is advertised
    assert {int(c) for c in caps["capacities"]} == bits
    assert info["price_info"] == {"pricePerUnit": "333333", "pixelsPerUnit": "1000"}
    assert not info["_raw"]["has_ticket_params"]  # off-chain
    assert info["_raw"]["address_hex"] == "00" * 20  # go's off-chain address


def test_get_orch_info_with_capabilities(server, sdk):
    info = sdk(do="info", url=server.url, capability=35, model="noop")
    assert "error" not in info, info
    assert info["transcoder"] == server.url
    _check_token(info)
    # No price for live-video-to-video/noop here: the base price; no menu, no hardware.
    assert info["price_info"] == {"pricePerUnit": "333333", "pixelsPerUnit": "1000"}
    assert "capabilities_prices" not in info and "hardware" not in info


def test_orchestrator_selector_skips_a_dead_orchestrator(server, sdk):
    dead = f"https://127.0.0.1:{free_port()}"
    picked = sdk(do="select", urls=[dead, server.url], capability=35, model="noop")
    assert picked["url"] == server.url and picked["transcoder"] == server.url
    assert [r["url"] for r in picked["rejections"]] == [dead]


def test_off_chain_payment_is_accepted(server, sdk):
    before = _payments(server)
    paid = sdk(do="pay", url=server.url, times=2)
    assert paid.get("paid") == 2, paid
    assert _payments(server) == before + 2


def _payments(server: ServerProcess) -> int:
    text = httpx.get(f"{server.cli_url}/metrics").text
    for line in text.splitlines():
        if line.startswith('lpengine_payments_total{result="accepted"'):
            return int(line.rsplit(" ", 1)[1])
    return 0


def test_proto_is_wire_compatible_with_the_sdk(sdk):
    theirs = sdk(do="descriptor")
    ours = describe(pb.DESCRIPTOR)
    assert len(theirs["messages"]) > 30  # the SDK's whole lp_rpc.proto, nested types included
    assert set(theirs["messages"]) <= set(ours["messages"])
    for name, fields in theirs["messages"].items():
        assert ours["messages"][name] == fields, name
    assert ours["services"] == theirs["services"]
