"""The real chain view, redeemer and transaction sender against anvil (one per module)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from eth_account import Account

from lpengine.chain.contracts import Contracts
from lpengine.chain.devnet import Anvil, Deployment, free_port
from lpengine.chain.networks import CHAINS, DEVNET, DEVNET_CONTROLLER
from lpengine.chain.redeemer import DONE, REDEEMED, RETRY, WAITING, Redeemer
from lpengine.chain.rpc import FailoverProvider, connect
from lpengine.chain.transactions import GasPriceTooHigh, SignedTx, TxFailed, TxSender
from lpengine.chain.view import EthChainView, ViewSettings
from lpengine.pm import PaymentConfig, PaymentReceiver, PriceInfo
from lpengine.pm.chainview import ChainError
from lpengine.pm.keccak import keccak256
from lpengine.pm.queue import TicketQueue
from lpengine.pm.store import Store
from lpengine.pm.ticket import MAX_WIN_PROB, SignedTicket, Ticket, pad32
from tests.chain.devnet_fixtures import (
    GATEWAY2_KEY,
    GATEWAY_KEY,
    ORCH,
    ORCH_KEY,
    anvil,
    devnet,
    fund,
    needs_anvil,
)
from tests.pm.gateway import Gateway

pytestmark = [needs_anvil, pytest.mark.net]
__all__ = ["anvil", "devnet"]  # fixtures
FACE_WEI = 10**16  # every ticket wins: faceValue == EV (winProb 2^256 - 1)
CONFIG = PaymentConfig(ev_wei=FACE_WEI, max_face_value_wei=FACE_WEI)
PRICE = PriceInfo(1000, 1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_view(anvil: Anvil, clock: Clock | None = None, **settings: float) -> EthChainView:
    contracts = Contracts.lookup(anvil.w3, DEVNET_CONTROLLER)
    return EthChainView(
        anvil.w3,
        CHAINS[DEVNET],
        contracts,
        orchestrator=bytes.fromhex(ORCH[2:]),
        settings=ViewSettings(**settings),  # type: ignore[arg-type]
        clock=clock or Clock(),
    )


def tx_sender(view: EthChainView, **kwargs: object) -> TxSender:
    return TxSender(
        view.w3,
        ORCH_KEY,
        chain_id=31337,
        gas_price_wei=view.network_gas_price_wei,
        receipt_poll_s=0.02,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def receiver(tmp_path: Path, anvil: Anvil, devnet: Deployment) -> Iterator[PaymentReceiver]:
    view = make_view(anvil)
    r = PaymentReceiver.open(
        tmp_path, recipient=view.orchestrator, chain=view, config=CONFIG, node_key=ORCH_KEY
    )
    yield r
    r.close()


def redeemer_for(r: PaymentReceiver, **tx: object) -> Redeemer:
    assert isinstance(r.chain, EthChainView)
    return Redeemer(
        view=r.chain,
        queue=r.queue,
        store=r.store,
        senders=r.senders,
        tx=tx_sender(r.chain, **tx),
        redeem_gas=CONFIG.redeem_gas,
    )


def test_deploy_registers_every_contract(devnet: Deployment) -> None:
    assert devnet.controller.address == DEVNET_CONTROLLER
    c = Contracts.lookup(devnet.w3, DEVNET_CONTROLLER)
    assert c.ticket_broker.address == devnet.ticket_broker.address
    assert c.ai_service_registry is not None
    assert c.ai_service_registry.address == devnet.ai_service_registry.address
    assert devnet.bonding_manager.functions.isActiveTranscoder(ORCH).call()


def test_view_reads_rounds_gas_and_senders(anvil: Anvil, devnet: Deployment) -> None:
    view = make_view(anvil, min_gas_price_wei=5 * 10**9)
    assert view.last_seen_l1_block() == anvil.w3.eth.block_number
    round_number = view.last_initialized_round()
    assert round_number == devnet.rounds_manager.functions.lastInitializedRound().call()
    assert view.last_initialized_l1_block_hash() == bytes(
        devnet.rounds_manager.functions.blockHashForRound(round_number).call()
    )
    assert view.last_initialized_l1_block_hash() != bytes(32)
    assert view.transcoder_pool_size() == 1
    assert view.is_active(view.orchestrator, round_number)
    assert view.gas_price_wei() == max(5 * 10**9, anvil.w3.eth.gas_price)  # the floor
    gw = Gateway(GATEWAY2_KEY)
    before = view.sender_info(gw.address)
    fund(devnet, GATEWAY2_KEY, 3 * 10**17, 2 * 10**17)
    assert view.sender_info(gw.address) == before  # cached for the block...
    view.poll()
    after = view.sender_info(gw.address)  # ...and read again for the next
    assert after.deposit_wei == before.deposit_wei + 3 * 10**17
    assert after.reserve_funds_remaining_wei == before.reserve_funds_remaining_wei + 2 * 10**17


def test_max_gas_price_clamps_quotes_and_stops_transactions(anvil: Anvil) -> None:
    view = make_view(anvil, max_gas_price_wei=1)
    assert view.gas_price_wei() == 1
    with pytest.raises(GasPriceTooHigh, match="exceeds maximum gas price 1 wei"):
        tx_sender(view, max_gas_price_wei=1).send(ORCH, b"", 21000)


def test_stale_view_stops_issuing_params(anvil: Anvil, devnet: Deployment, tmp_path: Path) -> None:
    clock = Clock()
    view = make_view(anvil, clock, stale_after_s=30)
    r = PaymentReceiver.open(tmp_path, recipient=view.orchestrator, chain=view, config=CONFIG)
    try:
        gw = Gateway(GATEWAY_KEY)
        fund(devnet, GATEWAY_KEY, 10**18, 10**18)
        view.poll()
        assert r.ticket_params(gw.address, Fraction(1000)).face_value == FACE_WEI
        clock.now += 31
        assert view.poll() is None  # no new block
        with pytest.raises(ChainError, match=r"chain view is stale: no new block for 31 s"):
            r.ticket_params(gw.address, Fraction(1000))
        anvil.mine()
        assert view.poll() is not None
        assert view.stale_reason() is None
        assert r.ticket_params(gw.address, Fraction(1000)).face_value == FACE_WEI
    finally:
        r.close()


def test_rpc_failover_and_rpc_down(anvil: Anvil) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens there
    w3 = connect(f"{dead},{anvil.url}", timeout_s=2)
    assert w3.eth.block_number == anvil.w3.eth.block_number
    assert isinstance(w3.provider, FailoverProvider)
    assert w3.provider.current_url == anvil.url
    with pytest.raises(ChainError, match="no Ethereum RPC endpoint answered"):
        EthChainView(
            connect(dead, timeout_s=2),
            CHAINS[DEVNET],
            Contracts.lookup(anvil.w3, DEVNET_CONTROLLER),
            orchestrator=bytes(20),
        )


def test_wrong_chain_id_is_refused(anvil: Anvil) -> None:
    with pytest.raises(ChainError, match="chain id 31337 is not arbitrum-one-mainnet's"):
        EthChainView(
            anvil.w3,
            CHAINS["arbitrum-one-mainnet"],
            Contracts.lookup(anvil.w3, DEVNET_CONTROLLER),
            orchestrator=bytes(20),
        )


def test_reorg_is_detected(anvil: Anvil, devnet: Deployment) -> None:
    view = make_view(anvil)
    snapshot = anvil.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    anvil.mine(2)
    view.poll()
    anvil.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    devnet.activate(ORCH)  # a transaction: a different block at that height
    anvil.mine(2)
    assert view.poll() is not None
    assert view.reorgs == 1
    assert view.last_seen_block() == anvil.w3.eth.block_number


def test_sender_unlocking_is_refused(anvil: Anvil, devnet: Deployment, tmp_path: Path) -> None:
    key = Account.create().key
    fund_from = Account.from_key(key).address
    anvil.w3.provider.make_request("anvil_setBalance", [fund_from, hex(10**18)])  # type: ignore[arg-type]
    fund(devnet, key, 10**17, 10**17)
    devnet.transact(devnet.ticket_broker.functions.unlock(), key=key)  # withdrawRound = r + 2
    view = make_view(anvil)
    assert view.sender_info(bytes.fromhex(fund_from[2:])).withdraw_round != 0
    length = devnet.rounds_manager.functions.roundLength().call()
    anvil.mine(length - anvil.w3.eth.block_number % length)  # the next round: r + 1
    devnet.initialize_round()
    view.poll()
    r = PaymentReceiver.open(tmp_path, recipient=view.orchestrator, chain=view, config=CONFIG)
    try:
        message = r.senders.validate_sender(bytes.fromhex(fund_from[2:]))
        assert message == f"deposit and reserve for sender {fund_from} is set to unlock soon"
    finally:
        r.close()


def test_paid_ticket_is_redeemed_after_expiry(
    anvil: Anvil, devnet: Deployment, receiver: PaymentReceiver
) -> None:
    gw = Gateway(GATEWAY_KEY)
    fund(devnet, GATEWAY_KEY, 10**18, 10**18)
    view = receiver.chain
    assert isinstance(view, EthChainView)
    view.poll()
    params = receiver.ticket_params(gw.address, Fraction(1000))
    assert params.win_prob == MAX_WIN_PROB
    outcome = receiver.process_payment(gw.pay(params, [1, 2], PRICE), "k")
    assert outcome.ok and outcome.winning_tickets == 2, outcome
    redeemer = redeemer_for(receiver)
    assert {r.outcome for r in redeemer.redeem_due()} == {WAITING}  # params not expired
    broker = devnet.ticket_broker.functions
    deposit = broker.getSenderInfo(Account.from_key(GATEWAY_KEY).address).call()[0][0]
    balance = anvil.w3.eth.get_balance(ORCH)
    anvil.mine(40)
    view.poll()
    done = redeemer.redeem_due()
    assert [r.outcome for r in done] == [REDEEMED, REDEEMED], done
    gateway = Account.from_key(GATEWAY_KEY).address
    assert broker.getSenderInfo(gateway).call()[0][0] == deposit - 2 * FACE_WEI
    assert anvil.w3.eth.get_balance(ORCH) > balance + 2 * FACE_WEI - 10**15  # less gas
    for signed in receiver.queue.all():
        assert broker.usedTickets(signed.ticket.hash()).call()
    rows = receiver.store.read("SELECT txHash, redeemedAt FROM ticketQueue")
    assert {(h, at is not None) for h, at in rows} == {
        ("0x" + r.tx_hash.hex(), True) for r in done if r.tx_hash
    }
    assert redeemer.redeem_due() == []  # nothing left, nothing redeemed twice


def _ticket(devnet: Deployment, key: bytes, creation_round: int, block_hash: bytes) -> SignedTicket:
    """A winning ticket straight into the queue (the receiver is not what is tested)."""
    gw = Gateway(key)
    rand = int.from_bytes(keccak256(b"rand" + creation_round.to_bytes(8, "big")), "big")
    ticket = Ticket(
        recipient=bytes.fromhex(ORCH[2:]),
        sender=gw.address,
        face_value_wei=FACE_WEI,
        win_prob=MAX_WIN_PROB,
        sender_nonce=creation_round,
        recipient_rand_hash=keccak256(pad32(rand)),
        creation_round=creation_round,
        creation_round_block_hash=block_hash,
        params_expiration_block=1,
    )
    return SignedTicket(ticket, gw.signer.sign(ticket.hash()), rand)


def test_faults_are_marked_or_retried(anvil: Anvil, devnet: Deployment, tmp_path: Path) -> None:
    fund(devnet, GATEWAY_KEY, 10**18, 10**18)
    view = make_view(anvil)
    round_number = view.last_initialized_round()
    good = _ticket(devnet, GATEWAY_KEY, round_number, view.last_initialized_l1_block_hash())
    no_hash = _ticket(devnet, GATEWAY_KEY, round_number + 7, b"\x01" * 32)
    store = Store(tmp_path / "q.sqlite3")
    try:
        queue = TicketQueue(store)
        r = PaymentReceiver(
            recipient=view.orchestrator, secret=b"\x00" * 32, chain=view, store=store, config=CONFIG
        )
        queue.add([good, no_hash])
        store.commit()
        redeemer = redeemer_for(r, max_gas_price_wei=1)
        outcomes = {x.sig: x for x in redeemer.redeem_due()}
        assert outcomes[good.sig].outcome == RETRY
        assert "exceeds maximum gas price" in outcomes[good.sig].reason
        assert outcomes[no_hash.sig].outcome == RETRY  # nothing is tried above the max
        redeemer = redeemer_for(r)
        outcomes = {x.sig: x for x in redeemer.redeem_due()}
        assert outcomes[good.sig].outcome == REDEEMED
        assert outcomes[no_hash.sig].outcome == DONE  # reverts in the estimate: non-retryable
        assert "ticket creationRound does not have a block hash" in outcomes[no_hash.sig].reason
    finally:
        store.close()
    # The same ticket in another queue (a restored backup): usedTickets says no before any tx.
    store = Store(tmp_path / "backup.sqlite3")
    try:
        TicketQueue(store).add([good])
        store.commit()
        r = PaymentReceiver(
            recipient=view.orchestrator, secret=b"\x00" * 32, chain=view, store=store, config=CONFIG
        )
        assert [x.reason for x in redeemer_for(r).redeem_due()] == ["ticket already used"]
        assert r.queue.count(good.ticket.sender, 0) == 0
    finally:
        store.close()


def test_reverted_transaction_and_replacement(anvil: Anvil, devnet: Deployment) -> None:
    view = make_view(anvil)
    sender = tx_sender(view)
    data = bytes.fromhex(devnet.ticket_broker.functions.withdraw()._encode_transaction_data()[2:])
    with pytest.raises(TxFailed, match="transaction failed: 0x"):  # nothing to withdraw
        sender.send(devnet.ticket_broker.address, data, 100_000)
    anvil.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    signed: list[SignedTx] = []
    both = threading.Event()

    def on_signed(tx: SignedTx) -> None:
        signed.append(tx)
        if len(signed) == 2:
            both.set()

    slow = tx_sender(view, timeout_s=2.0)
    result: list[object] = []
    worker = threading.Thread(
        target=lambda: result.append(slow.send(ORCH, b"", 21000, on_signed=on_signed))
    )
    try:
        worker.start()
        assert both.wait(10)
        deadline = time.monotonic() + 10  # on_signed runs before the broadcast: await it
        while not anvil.w3.provider.make_request(
            "eth_getTransactionByHash",  # type: ignore[arg-type]
            ["0x" + signed[1].hash.hex()],
        ).get("result"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        anvil.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        worker.join(10)
    finally:
        anvil.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    mined, receipt = result[0]  # type: ignore[misc]
    assert receipt["status"] == 1
    assert signed[0].nonce == signed[1].nonce
    assert signed[1].gas_price_wei >= signed[0].gas_price_wei * 111 // 100
    assert mined.hash == signed[1].hash  # the replacement, at the higher price
