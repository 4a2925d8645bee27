"""End to end on the devnet: `python -m lpengine.serve -network devnet` is discovered and paid by a
gateway that funds TicketBroker itself, and redeems what it wins; killed mid-redemption, it
redeems each ticket exactly once after a restart."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from lpengine.chain import keystore
from lpengine.chain.devnet import Anvil, Deployment
from lpengine.pm.store import DB_FILE
from tests.chain.devnet_fixtures import GATEWAY_KEY, anvil, devnet, fund, needs_anvil
from tests.helpers import ServerProcess
from tests.serve.paying_gateway import WireGateway, header, payment_to_pb

pytestmark = [needs_anvil, pytest.mark.net, pytest.mark.slow]
__all__ = ["anvil", "devnet"]  # fixtures
FACE_WEI = 10**16  # faceValue == EV: every ticket wins
WAIT_S = 30.0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, anvil: Anvil, devnet: Deployment) -> Path:
    """The node's data dir, its key made first so the devnet can activate and fund it."""
    data = tmp_path_factory.mktemp("node")
    key = keystore.load_or_create(data / keystore.KEYSTORE_DIR, wanted=None, password="")
    node = Account.from_key(key.private_key).address
    devnet.activate(node)
    anvil.w3.provider.make_request("anvil_setBalance", [node, hex(10**19)])  # type: ignore[arg-type]
    return data


def start(anvil: Anvil, data_dir: Path) -> ServerProcess:
    return ServerProcess(
        "-network", "devnet", "-ethUrl", anvil.url, "-dataDir", str(data_dir),
        "-pricePerUnit", "1000", "-ticketEV", str(FACE_WEI), "-maxFaceValue", str(FACE_WEI),
        "-blockPollingInterval", "0.1s", "-registerServiceURI",
    )  # fmt: skip


@pytest.fixture(scope="module")
def gateway(devnet: Deployment) -> WireGateway:
    fund(devnet, GATEWAY_KEY, 10**18, 10**18)
    return WireGateway(GATEWAY_KEY)


def pay(server: ServerProcess, gateway: WireGateway, nonces: list[int]) -> None:
    with server.grpc_channel() as channel:
        info = gateway.discover(channel)
    seg = header(gateway.segment(info, b"e2e"))
    r = httpx.post(
        f"{server.url}/payment",
        headers={
            "Livepeer-Payment": header(payment_to_pb(gateway.pay(info, nonces))),
            "Livepeer-Segment": seg,
        },
        verify=False,
    )
    assert r.status_code == 200, r.text


def queue_rows(data_dir: Path) -> list[tuple[int, str | None, str | None]]:
    with sqlite3.connect(f"file:{data_dir / DB_FILE}?mode=ro", uri=True) as db:
        return db.execute("SELECT senderNonce, txHash, redeemedAt FROM ticketQueue").fetchall()


def await_redeemed(data_dir: Path, count: int) -> list[tuple[int, str | None, str | None]]:
    """The queue once `count` rows are marked (the node redeems on its own new-block events)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        rows = queue_rows(data_dir)
        if sum(1 for r in rows if r[2] is not None) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(anvil: Anvil, data_dir: Path) -> Iterator[ServerProcess]:
    srv = start(anvil, data_dir)
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def test_paid_tickets_are_redeemed(
    anvil: Anvil, devnet: Deployment, data_dir: Path, server: ServerProcess, gateway: WireGateway
) -> None:
    node = Account.from_key(
        keystore.load_or_create(
            data_dir / keystore.KEYSTORE_DIR, wanted=None, password=""
        ).private_key
    ).address
    assert devnet.service_registry.functions.getServiceURI(node).call() == server.url
    broker = devnet.ticket_broker.functions
    deposit = broker.getSenderInfo(gateway.checksum).call()[0][0]
    pay(server, gateway, [1, 2])
    assert len(queue_rows(data_dir)) == 2
    anvil.mine(40)  # the params expire: now they may be redeemed
    rows = await_redeemed(data_dir, 2)
    assert all(tx and at for _, tx, at in rows), server.log
    assert broker.getSenderInfo(gateway.checksum).call()[0][0] == deposit - 2 * FACE_WEI
    for _, tx, _ in rows:
        receipt = anvil.w3.eth.get_transaction_receipt(tx)  # type: ignore[arg-type]
        assert receipt["status"] == 1 and receipt["to"] == devnet.ticket_broker.address


def test_killed_mid_redemption_redeems_once(
    anvil: Anvil, devnet: Deployment, data_dir: Path, server: ServerProcess, gateway: WireGateway
) -> None:
    broker = devnet.ticket_broker.functions
    deposit = broker.getSenderInfo(gateway.checksum).call()[0][0]
    pay(server, gateway, [3])
    provider = anvil.w3.provider
    provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        anvil.mine(40)
        deadline = time.monotonic() + WAIT_S
        while int(provider.make_request("txpool_status", [])["result"]["pending"], 16) == 0:  # type: ignore[arg-type]
            assert time.monotonic() < deadline, server.log
            time.sleep(0.02)
        server.kill()  # the redemption is signed, journaled, broadcast, and not mined
        anvil.mine(1)
    finally:
        provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    restarted = start(anvil, data_dir)
    try:
        rows = await_redeemed(data_dir, 3)
        assert all(tx and at for _, tx, at in rows), restarted.log
        assert len({tx for _, tx, _ in rows}) == 3  # three tickets, three transactions
    finally:
        restarted.stop()
    assert broker.getSenderInfo(gateway.checksum).call()[0][0] == deposit - FACE_WEI
