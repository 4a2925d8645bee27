"""The generated modules in src/lpengine/net/ match proto/lp_rpc.proto (regenerate: make proto)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
assert spec is not None and spec.loader is not None
gen_proto = importlib.util.module_from_spec(spec)
sys.modules["gen_proto"] = gen_proto
spec.loader.exec_module(gen_proto)


def test_generated_modules_match_the_proto(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools is in the [test] extra")
    gen_proto.generate(tmp_path)
    for name in gen_proto.GENERATED:
        fresh = (tmp_path / name).read_bytes()
        committed = (gen_proto.NET_DIR / name).read_bytes()
        assert fresh == committed, f"src/lpengine/net/{name} is stale: run `make proto`"


def test_package_and_services_are_go_livepeers():
    from lpengine.net import lp_rpc_pb2 as pb

    assert pb.DESCRIPTOR.package == "net"
    assert set(pb.DESCRIPTOR.services_by_name) == {"Orchestrator", "Transcoder", "AIWorker"}
    methods = {m.name for m in pb.DESCRIPTOR.services_by_name["Orchestrator"].methods}
    assert methods == {"GetOrchestrator", "EndTranscodingSession", "Ping"}
    # A few field numbers gateways depend on (protocol.md §2), spelled out.
    info = pb.OrchestratorInfo.DESCRIPTOR.fields_by_name
    assert {
        n: info[n].number for n in ("transcoder", "auth_token", "capabilities_prices", "nodes")
    } == {
        "transcoder": 1,
        "auth_token": 6,
        "capabilities_prices": 33,
        "nodes": 34,
    }
    assert pb.SegData.DESCRIPTOR.fields_by_name["auth_token"].number == 8
    assert pb.PaymentResult.DESCRIPTOR.fields_by_name["info"].number == 16
