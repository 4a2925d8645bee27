from __future__ import annotations

import pytest

from lpengine.metrics import Metrics


def test_prometheus_text():
    m = Metrics(node_id="n1")
    m.inc("lpengine_grpc_requests_total", "gRPC calls.", method="/a", code="OK")
    m.inc("lpengine_grpc_requests_total", "gRPC calls.", 2, method="/a", code="OK")
    m.set("livepeer_transcoding_price", "Price.", 333.333, sender='odd"name\\')
    sessions = [3]
    m.gauge("livepeer_current_sessions_total", "Open sessions.", lambda: [({}, sessions[0])])
    sessions[0] = 4  # read at scrape time
    assert m.render() == (
        "# HELP livepeer_current_sessions_total Open sessions.\n"
        "# TYPE livepeer_current_sessions_total gauge\n"
        'livepeer_current_sessions_total{node_id="n1",node_type="orch"} 4\n'
        "# HELP livepeer_transcoding_price Price.\n"
        "# TYPE livepeer_transcoding_price gauge\n"
        'livepeer_transcoding_price{sender="odd\\"name\\\\",node_id="n1",'
        'node_type="orch"} 333.333\n'
        "# HELP lpengine_grpc_requests_total gRPC calls.\n"
        "# TYPE lpengine_grpc_requests_total counter\n"
        'lpengine_grpc_requests_total{code="OK",method="/a",node_id="n1",node_type="orch"} 3\n'
    )
    assert m.value("lpengine_grpc_requests_total", method="/a", code="OK") == 3
    assert m.value("livepeer_current_sessions_total") == 4
    assert m.value("nothing") is None


def test_a_name_has_one_kind():
    m = Metrics(node_id="n1")
    m.inc("x_total", "x")
    with pytest.raises(ValueError, match="counter"):
        m.set("x_total", "x", 1)
