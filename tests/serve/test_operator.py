"""The operator API on -cliAddr: go-livepeer's routes, changing the node live."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest

from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess, unary

pytestmark = pytest.mark.net

GW = "0x" + "ab" * 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        "-dataDir", str(tmp_path_factory.mktemp("data")), "-monitor", "-maxSessions", "2"
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def quote(server: ServerProcess) -> Iterator:  # type: ignore[type-arg]
    with server.grpc_channel() as channel:
        call = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)
        yield lambda address=b"": call(pb.OrchestratorRequest(address=address), timeout=5)


def post(server: ServerProcess, path: str, **form: str) -> httpx.Response:
    return httpx.post(f"{server.cli_url}{path}", data=form)


def test_status_and_orchestrator_info(server):
    status = httpx.get(f"{server.cli_url}/status").json()
    assert status["service_uri"] == server.url and status["sessions"]["max"] == 2
    assert status["capabilities"]["H.264"] == 1
    info = httpx.get(f"{server.cli_url}/orchestratorInfo").json()
    assert info["transcoder"] == server.url and 0 in info["capabilities"]
    assert info["address"] == "0x" + "00" * 20


def test_set_max_sessions(server):
    assert post(server, "/setMaxSessions", maxSessions="5").text == "Max sessions set to 5\n"
    assert httpx.get(f"{server.cli_url}/status").json()["sessions"]["limit"] == 5
    assert post(server, "/setMaxSessions", maxSessions="auto").text == "Max sessions set to auto\n"
    assert post(server, "/setMaxSessions", maxSessions="0").status_code == 400
    assert post(server, "/setMaxSessions").status_code == 400
    assert httpx.get(f"{server.cli_url}/setMaxSessions").status_code == 405


def test_set_price_for_broadcaster_changes_quotes_live(server, quote):
    assert not quote().HasField("price_info")  # unpriced: nothing quoted (go's off-chain shape)
    default = {"pricePerUnit": "1200", "pixelsPerUnit": "4", "broadcasterEthAddr": "default"}
    r = post(server, "/setPriceForBroadcaster", **default)
    assert r.status_code == 200, r.text
    assert r.text == "Price per pixel set to 1200 wei for 4 pixels for broadcaster default\n"
    assert (quote().price_info.pricePerUnit, quote().price_info.pixelsPerUnit) == (300, 1)
    # 1e-15 eth per pixel = 1000 wei, for one gateway only.
    mine_form = {"pricePerUnit": "0.000000000000001", "pixelsPerUnit": "1", "currency": "eth"}
    assert post(server, "/setPriceForBroadcaster", **mine_form, broadcasterEthAddr=GW).is_success
    mine = quote(bytes.fromhex("ab" * 20)).price_info
    assert (mine.pricePerUnit, mine.pixelsPerUnit) == (1000, 1)
    assert quote().price_info.pricePerUnit == 300  # others keep the default
    for bad in (
        {"pricePerUnit": "x", "pixelsPerUnit": "1", "broadcasterEthAddr": "default"},
        {"pricePerUnit": "1", "pixelsPerUnit": "0", "broadcasterEthAddr": "default"},
        {"pricePerUnit": "1", "pixelsPerUnit": "1", "broadcasterEthAddr": "0x12"},
        {"pricePerUnit": "1", "pixelsPerUnit": "1", "currency": "USD", "broadcasterEthAddr": GW},
        {"pricePerUnit": "1"},
    ):
        assert post(server, "/setPriceForBroadcaster", **bad).status_code == 400, bad


def test_log_level(server):
    assert post(server, "/setLogLevel", loglevel="6").status_code == 200
    assert httpx.get(f"{server.cli_url}/getLogLevel").text == "6"
    assert post(server, "/setLogLevel", loglevel="loud").status_code == 400
    assert post(server, "/setLogLevel", loglevel="3").status_code == 200


def test_metrics(server, quote):
    quote()
    text = httpx.get(f"{server.cli_url}/metrics").text
    lines = text.splitlines()
    assert "# TYPE livepeer_max_sessions_total gauge" in lines
    assert any(line.startswith("livepeer_current_sessions_total{") for line in lines)
    assert any(
        line.startswith("livepeer_versions{") and 'node_type="orch"' in line for line in lines
    )
    calls = [
        line
        for line in lines
        if line.startswith("lpengine_grpc_requests_total{")
        and 'code="OK"' in line
        and "GetOrchestrator" in line
    ]
    assert calls and int(calls[0].rsplit(" ", 1)[1]) >= 1


def test_operator_routes_stay_off_the_service_port(server):
    assert httpx.get(f"{server.url}/status", verify=False).status_code == 404
    with server.grpc_channel() as channel:
        call = unary(channel, "/net.Orchestrator/Nope", pb.PingPong)
        with pytest.raises(grpc.RpcError):
            call(pb.PingPong(), timeout=5)


def test_payment_routes_off_chain(server):
    cli = server.cli_url
    assert httpx.get(f"{cli}/status").json()["payments"] is None
    for path in ("/simulated", "/simulated/fund", "/simulated/mine"):
        r = httpx.request("GET" if path == "/simulated" else "POST", f"{cli}{path}")
        assert (r.status_code, "-network simulated" in r.text) == (404, True)
    r = httpx.get(f"{cli}/balance", params={"sender": GW})
    assert r.status_code == 400 and "no balances off-chain" in r.text
    assert httpx.get(f"{cli}/balance").status_code == 400  # missing form params: sender


@pytest.fixture(scope="module")
def usd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        "-dataDir", str(tmp_path_factory.mktemp("usd")), "-monitor",
        "-pricePerUnit", "0.5USD", "-priceFeedFixed", "ETH/USD=2000",
    )  # fmt: skip
    yield srv
    srv.stop()


def test_currency_prices_quote_through_the_price_feed(usd_server):
    with usd_server.grpc_channel() as channel:
        call = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)

        def quote(address: bytes = b"") -> pb.OrchestratorInfo:
            return call(pb.OrchestratorRequest(address=address), timeout=5)

        price = quote().price_info
        # 0.5 USD at 2000 USD per ETH: 0.5 * 1e18 / 2000 = 2.5e14 wei per pixel.
        assert (price.pricePerUnit, price.pixelsPerUnit) == (250_000_000_000_000, 1)
        form = {"pricePerUnit": "3", "pixelsPerUnit": "1000", "currency": "USD"}
        r = post(usd_server, "/setPriceForBroadcaster", **form, broadcasterEthAddr=GW)
        assert r.text == f"Price per pixel set to 3 USD for 1000 pixels for broadcaster {GW}\n"
        mine = quote(bytes.fromhex("ab" * 20)).price_info
        assert (mine.pricePerUnit, mine.pixelsPerUnit) == (1_500_000_000_000, 1)
    r = post(usd_server, "/setPriceForBroadcaster", **{**form, "currency": "EUR"},
             broadcasterEthAddr=GW)  # fmt: skip
    assert r.status_code == 400 and "price feed ETH/USD cannot convert EUR" in r.text
    feed = httpx.get(f"{usd_server.cli_url}/status").json()["price_feed"]
    assert (feed["pair"], feed["price"], feed["last_error"]) == ("ETH/USD", "2000", None)
    assert feed["age_s"] >= 0 and feed["wei_per_currency"] == {"USD": "500000000000000"}
    metrics = httpx.get(f"{usd_server.cli_url}/metrics").text.splitlines()
    assert any(
        line.startswith('lpengine_price_feed_price{pair="ETH/USD"') and line.endswith(" 2000")
        for line in metrics
    )
    assert any(line.startswith("lpengine_price_feed_age_seconds{") for line in metrics)
