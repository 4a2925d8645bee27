"""Faults against a real anvil: RPC down, failing and hanging, a reorg under a redemption, a
reverted redemption, gas above -maxGasPrice, an unlocking sender. Each is logged with its
reason and retried or skipped by go's rules; no ticket is lost and none is redeemed twice."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from eth_account import Account

from lpengine.chain.contracts import Contracts, ticket_struct
from lpengine.chain.devnet import Anvil, Deployment, deploy
from lpengine.chain.networks import CHAINS, DEVNET, DEVNET_CONTROLLER
from lpengine.chain.redeemer import DONE, REDEEMED, RETRY, Redeemer
from lpengine.chain.rpc import FailoverProvider, connect
from lpengine.chain.transactions import TxSender
from lpengine.chain.view import EthChainView, ViewSettings
from lpengine.pm import PaymentConfig, PaymentReceiver, PriceInfo
from lpengine.pm.address import checksum
from lpengine.pm.chainview import ChainError
from lpengine.pm.keccak import keccak256
from lpengine.pm.ticket import MAX_WIN_PROB, SignedTicket, Ticket, pad32
from tests.chain.devnet_fixtures import (
    GATEWAY2_KEY,
    ORCH,
    ORCH_KEY,
    anvil,
    fund,
    needs_anvil,
)
from tests.chain.rpc_proxy import HANG, HTTP_ERROR, RPC_ERROR, RpcProxy
from tests.pm.gateway import Gateway

pytestmark = [needs_anvil, pytest.mark.net]
__all__ = ["anvil", "devnet"]  # fixtures
FACE_WEI = 10**16  # faceValue == EV: every ticket wins
CONFIG = PaymentConfig(ev_wei=FACE_WEI, max_face_value_wei=FACE_WEI)
PRICE = PriceInfo(1000, 1)
GWEI = 10**9
HANG_TIMEOUT_S = 3.0  # the RPC timeout where an endpoint hangs: above a loaded anvil's answers
ROUND_BLOCKS = 100  # short rounds (each block costs ~10 ms): the unlock test crosses two
_nonces = itertools.count(1000)


@pytest.fixture(scope="module")
def devnet(anvil: Anvil) -> Deployment:
    d = deploy(anvil.w3, round_length=ROUND_BLOCKS)
    d.activate(ORCH)
    return d


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rpc(anvil: Anvil, method: str, *params: object) -> object:
    answer = anvil.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer.get("result")


def view_over(url: str, clock: Clock | None = None, timeout_s: float = 20.0) -> EthChainView:
    w3 = connect(url, timeout_s=timeout_s)
    return EthChainView(
        w3,
        CHAINS[DEVNET],
        Contracts.lookup(w3, DEVNET_CONTROLLER),
        orchestrator=bytes.fromhex(ORCH[2:]),
        settings=ViewSettings(poll_interval_s=0.02, max_backoff_s=0.1, stale_after_s=30),
        clock=clock or Clock(),
    )


def redeemer_for(r: PaymentReceiver, confirmations: int = 3, **tx: object) -> Redeemer:
    assert isinstance(r.chain, EthChainView)
    view = r.chain
    sender = TxSender(
        view.w3,
        ORCH_KEY,
        chain_id=31337,
        gas_price_wei=view.network_gas_price_wei,
        receipt_poll_s=0.02,
        **tx,  # type: ignore[arg-type]
    )
    return Redeemer(
        view=view,
        queue=r.queue,
        store=r.store,
        senders=r.senders,
        tx=sender,
        redeem_gas=CONFIG.redeem_gas,
        confirmations=confirmations,
    )


def new_gateway(anvil: Anvil, devnet: Deployment) -> tuple[bytes, Gateway]:
    """A fresh funded sender, so each test's deposit arithmetic is its own."""
    key = bytes(Account.create().key)
    rpc(anvil, "anvil_setBalance", Account.from_key(key).address, hex(10**19))
    fund(devnet, key, 10**18, 10**18)
    return key, Gateway(key)


def deposit_of(devnet: Deployment, gw: Gateway) -> int:
    return int(devnet.ticket_broker.functions.getSenderInfo(checksum(gw.address)).call()[0][0])


def paid_ticket(r: PaymentReceiver, gw: Gateway, devnet: Deployment) -> SignedTicket:
    """One winning ticket paid through the receiver; its params then expire (40 blocks)."""
    assert isinstance(r.chain, EthChainView)
    if not devnet.rounds_manager.functions.currentRoundInitialized().call():
        devnet.initialize_round()  # as a live network's initializer would
    r.chain.poll()
    params = r.ticket_params(gw.address, Fraction(1000))
    outcome = r.process_payment(gw.pay(params, [next(_nonces)], PRICE), "k")
    assert outcome.ok and outcome.winning_tickets == 1, outcome
    return [t for t in r.queue.all() if t.ticket.sender == gw.address][-1]


def queued(r: PaymentReceiver, signed: SignedTicket) -> tuple[str | None, str | None]:
    (row,) = r.store.read("SELECT txHash, redeemedAt FROM ticketQueue WHERE sig = ?", (signed.sig,))
    return row[0], row[1]


def until(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def proxies(anvil: Anvil) -> Iterator[tuple[RpcProxy, RpcProxy]]:
    a, b = RpcProxy(anvil.url), RpcProxy(anvil.url)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def receiver_over(tmp_path: Path) -> Iterator[Callable[[EthChainView], PaymentReceiver]]:
    opened: list[PaymentReceiver] = []

    def open_(view: EthChainView) -> PaymentReceiver:
        r = PaymentReceiver.open(
            tmp_path / str(len(opened)), recipient=view.orchestrator, chain=view, config=CONFIG
        )
        opened.append(r)
        return r

    yield open_
    for r in opened:
        r.close()


def test_failover_to_the_second_url(anvil: Anvil, devnet: Deployment, proxies) -> None:
    a, b = proxies
    view = view_over(f"{a.url},{b.url}")
    provider = view.w3.provider
    assert isinstance(provider, FailoverProvider) and provider.current_url == a.url
    a.down()
    anvil.mine()
    assert view.poll() == anvil.w3.eth.block_number  # through b
    assert provider.current_url == b.url
    assert "ConnectionError" in provider.describe_errors()
    a.up()
    b.down()
    anvil.mine()
    assert view.poll() == anvil.w3.eth.block_number  # back to a, marked down or not
    assert provider.current_url == a.url


def test_rpc_errors_and_timeouts_fail_over_or_are_retried(
    anvil: Anvil, devnet: Deployment, proxies
) -> None:
    a, b = proxies
    a.mode = HTTP_ERROR  # an HTTP error: the endpoint is skipped
    view = view_over(f"{a.url},{b.url}", timeout_s=HANG_TIMEOUT_S)
    assert view.w3.provider.current_url == b.url  # type: ignore[attr-defined]
    a.mode, b.mode = "forward", HANG  # a hanging endpoint: skipped after the timeout
    anvil.mine()
    assert view.poll() == anvil.w3.eth.block_number
    assert "Timeout" in view.w3.provider.describe_errors()  # type: ignore[attr-defined]
    only = view_over(a.url, timeout_s=HANG_TIMEOUT_S)
    a.mode = HANG
    anvil.mine()
    with pytest.raises(ChainError, match=r"no Ethereum RPC endpoint answered.*Timeout"):
        only.poll()
    a.mode = RPC_ERROR  # a JSON-RPC error is an answer: no failover, the call fails
    with pytest.raises(ChainError, match="backend unavailable"):
        only.poll()
    assert only.last_error is not None and "backend unavailable" in only.last_error
    a.mode = "forward"
    assert only.poll() == anvil.w3.eth.block_number


def test_rpc_down_retries_redemption_and_the_watcher_survives(
    anvil: Anvil, devnet: Deployment, proxies, receiver_over, caplog
) -> None:
    a, _ = proxies
    clock = Clock()
    view = view_over(a.url, clock)
    r = receiver_over(view)
    _, gw = new_gateway(anvil, devnet)
    signed = paid_ticket(r, gw, devnet)
    deposit = deposit_of(devnet, gw)
    anvil.mine(40)
    view.poll()
    redeemer = redeemer_for(r)
    a.down()
    (outcome,) = redeemer.redeem_due()
    assert outcome.outcome == RETRY and "no Ethereum RPC endpoint answered" in outcome.reason
    assert queued(r, signed) == (None, None)
    assert "not redeemed yet (retried next block): usedTickets" in caplog.text
    with pytest.raises(ChainError, match="Connection"):
        view.poll()
    clock.now += 31  # and quotes stop, saying why
    with pytest.raises(ChainError, match=r"chain view is stale.*last error: eth_getBlockByNumber"):
        r.ticket_params(gw.address, Fraction(1000))
    view.start()  # the watcher backs off and keeps trying
    try:
        until(lambda: "next try in 0.1 s" in caplog.text)
        a.up()
        block = anvil.mine()
        until(lambda: view.last_seen_block() == block)
        assert view.stale_reason() is None
    finally:
        view.close()
    assert [x.outcome for x in redeemer.redeem_due()] == [REDEEMED]
    assert queued(r, signed)[1] is not None
    assert deposit_of(devnet, gw) == deposit - FACE_WEI
    assert redeemer.redeem_due() == []


def test_rpc_down_while_awaiting_the_receipt(
    anvil: Anvil, devnet: Deployment, proxies, receiver_over
) -> None:
    a, _ = proxies
    view = view_over(a.url)
    r = receiver_over(view)
    _, gw = new_gateway(anvil, devnet)
    signed = paid_ticket(r, gw, devnet)
    deposit = deposit_of(devnet, gw)
    anvil.mine(40)
    view.poll()
    redeemer = redeemer_for(r)
    done: list[object] = []
    rpc(anvil, "evm_setAutomine", False)
    try:
        worker = threading.Thread(target=lambda: done.extend(redeemer.redeem_due()))
        worker.start()
        until(lambda: int(rpc(anvil, "txpool_status")["pending"], 16) == 1)  # type: ignore[index]
        a.down()  # the receipt wait fails: the journaled tx is settled on the next pass
        worker.join(10)
        rpc(anvil, "evm_mine")
    finally:
        rpc(anvil, "evm_setAutomine", True)
    (first,) = done
    assert first.outcome == RETRY  # type: ignore[attr-defined]
    a.up()
    (recovered,) = redeemer.recover()
    assert recovered.outcome == REDEEMED and recovered.reason == "recovered"
    assert queued(r, signed)[0] == "0x" + recovered.tx_hash.hex()  # type: ignore[union-attr]
    assert redeemer.redeem_due() == []
    assert deposit_of(devnet, gw) == deposit - FACE_WEI


def test_anvil_killed_is_a_chain_error(tmp_path: Path) -> None:
    with Anvil.start() as node:
        deploy(node.w3)
        view = view_over(node.url)
        node.stop()
        with pytest.raises(ChainError, match="no Ethereum RPC endpoint answered"):
            view.poll()
        assert view.last_error is not None and "Connection" in view.last_error


def test_reorged_redemption_is_redone(
    anvil: Anvil, devnet: Deployment, receiver_over, caplog
) -> None:
    view = view_over(anvil.url)
    r = receiver_over(view)
    _, gw = new_gateway(anvil, devnet)
    first, second = paid_ticket(r, gw, devnet), paid_ticket(r, gw, devnet)
    deposit = deposit_of(devnet, gw)
    anvil.mine(40)
    view.poll()
    redeemer = redeemer_for(r, confirmations=3)
    done = redeemer.redeem_due()
    assert [x.outcome for x in done] == [REDEEMED, REDEEMED]
    view.poll()
    assert redeemer.recover() == []  # mined, not yet 3 deep
    # The block of the second redemption is reorged away, and its transaction with it.
    rpc(anvil, "anvil_reorg", 1, [])
    view.poll()
    assert view.reorgs == 1
    (redone,) = redeemer.recover()
    assert redone.outcome == REDEEMED and redone.tx_hash == done[1].tx_hash  # same signed tx
    assert "was removed by a reorg: redoing it" in caplog.text
    broker = devnet.ticket_broker.functions
    assert broker.usedTickets(second.ticket.hash()).call()
    assert deposit_of(devnet, gw) == deposit - 2 * FACE_WEI
    # Deeper: both are reorged away, and the first one's nonce is taken by another
    # transaction, so it cannot come back: that ticket goes through the queue again.
    view.poll()
    rpc(anvil, "anvil_reorg", 3, [])
    view.poll()
    assert view.reorgs == 2
    taken = Account.from_key(ORCH_KEY).sign_transaction(
        {
            "to": ORCH,
            "value": 0,
            "gas": 21000,
            "gasPrice": 2 * anvil.w3.eth.gas_price,
            "nonce": anvil.w3.eth.get_transaction_count(ORCH),
            "chainId": 31337,
        }
    )
    anvil.w3.eth.send_raw_transaction(taken.raw_transaction)
    outcomes = {x.sig: x for x in redeemer.recover()}
    assert outcomes[first.sig].outcome == RETRY
    assert outcomes[second.sig].outcome == REDEEMED  # its nonce is next: the same tx again
    assert outcomes[second.sig].tx_hash == done[1].tx_hash
    assert queued(r, first) == (None, None)
    (again,) = redeemer.redeem_due()
    assert again.outcome == REDEEMED and again.tx_hash not in {d.tx_hash for d in done}
    assert deposit_of(devnet, gw) == deposit - 2 * FACE_WEI  # each once
    anvil.mine(3)
    view.poll()
    assert redeemer.recover() == []
    assert r.store.read("SELECT count(*) FROM redemptionTx") == [(0,)]  # final
    assert {queued(r, t)[1] is not None for t in (first, second)} == {True}


def test_reverted_redemption_is_marked_not_retried(
    anvil: Anvil, devnet: Deployment, receiver_over
) -> None:
    view = view_over(anvil.url)
    r = receiver_over(view)
    _, gw = new_gateway(anvil, devnet)
    signed = paid_ticket(r, gw, devnet)
    deposit = deposit_of(devnet, gw)
    anvil.mine(40)
    view.poll()
    redeemer = redeemer_for(r)
    done: list[object] = []
    rpc(anvil, "evm_setAutomine", False)
    try:
        worker = threading.Thread(target=lambda: done.extend(redeemer.redeem_due()))
        worker.start()
        until(lambda: int(rpc(anvil, "txpool_status")["pending"], 16) == 1)  # type: ignore[index]
        # Someone else redeems the same ticket first (anyone may): ours reverts when mined.
        fn = devnet.ticket_broker.functions.redeemWinningTicket(
            ticket_struct(signed), signed.sig, signed.recipient_rand
        )
        other = Account.from_key(GATEWAY2_KEY)
        tx = fn.build_transaction(
            {
                "from": other.address,
                "nonce": anvil.w3.eth.get_transaction_count(other.address, "pending"),
                "gas": 500_000,
                "gasPrice": 10 * anvil.w3.eth.gas_price,
                "chainId": 31337,
            }
        )
        anvil.w3.eth.send_raw_transaction(other.sign_transaction(tx).raw_transaction)
        rpc(anvil, "evm_mine")
        worker.join(10)
    finally:
        rpc(anvil, "evm_setAutomine", True)
    (outcome,) = done
    assert outcome.outcome == DONE  # type: ignore[attr-defined]
    assert outcome.reason.startswith("transaction failed: 0x")  # type: ignore[attr-defined]
    receipt = anvil.w3.eth.get_transaction_receipt(outcome.tx_hash)  # type: ignore[attr-defined]
    assert receipt["status"] == 0
    assert queued(r, signed)[0] == "0x" + outcome.tx_hash.hex()  # type: ignore[attr-defined]
    assert redeemer.redeem_due() == []  # not retried
    assert deposit_of(devnet, gw) == deposit - FACE_WEI  # paid once


def test_gas_price_above_max_waits_without_sending(
    anvil: Anvil, devnet: Deployment, receiver_over
) -> None:
    view = view_over(anvil.url)
    r = receiver_over(view)
    _, gw = new_gateway(anvil, devnet)
    signed = paid_ticket(r, gw, devnet)
    anvil.mine(40)
    rpc(anvil, "anvil_setNextBlockBaseFeePerGas", hex(200 * GWEI))
    anvil.mine()
    view.poll()
    assert view.network_gas_price_wei() > 100 * GWEI
    nonce = anvil.w3.eth.get_transaction_count(ORCH)
    redeemer = redeemer_for(r, max_gas_price_wei=50 * GWEI)
    (outcome,) = redeemer.redeem_due()
    assert outcome.outcome == RETRY
    assert "exceeds maximum gas price 50000000000 wei (-maxGasPrice)" in outcome.reason
    assert anvil.w3.eth.get_transaction_count(ORCH) == nonce  # nothing was sent
    assert queued(r, signed) == (None, None)
    rpc(anvil, "anvil_setNextBlockBaseFeePerGas", hex(GWEI))
    anvil.mine()
    view.poll()
    assert [x.outcome for x in redeemer.redeem_due()] == [REDEEMED]


def _queue_ticket(r: PaymentReceiver, key: bytes, view: EthChainView) -> SignedTicket:
    """A winning ticket of the current round straight into the queue (the receiver refuses
    senders that unlock soon, which is not what is tested here)."""
    gw = Gateway(key)
    nonce = next(_nonces)
    rand = int.from_bytes(keccak256(b"rand" + nonce.to_bytes(8, "big")), "big")
    ticket = Ticket(
        recipient=bytes.fromhex(ORCH[2:]),
        sender=gw.address,
        face_value_wei=FACE_WEI,
        win_prob=MAX_WIN_PROB,
        sender_nonce=nonce,
        recipient_rand_hash=keccak256(pad32(rand)),
        creation_round=view.last_initialized_round(),
        creation_round_block_hash=view.last_initialized_l1_block_hash(),
        params_expiration_block=1,
    )
    signed = SignedTicket(ticket, gw.signer.sign(ticket.hash()), rand)
    r.queue.add([signed])
    r.store.commit()
    return signed


def _next_round(anvil: Anvil, devnet: Deployment) -> None:
    length = devnet.rounds_manager.functions.roundLength().call()
    anvil.mine(length - anvil.w3.eth.block_number % length)
    devnet.initialize_round()


def test_unlocking_sender_is_redeemed_unlocked_is_retried(
    anvil: Anvil, devnet: Deployment, receiver_over, caplog
) -> None:
    view = view_over(anvil.url)
    r = receiver_over(view)
    key, gw = new_gateway(anvil, devnet)
    paid = paid_ticket(r, gw, devnet)
    devnet.transact(devnet.ticket_broker.functions.unlock(), key=key)  # withdrawRound = r + 2
    anvil.mine(40)
    view.poll()
    redeemer = redeemer_for(r)
    assert [x.outcome for x in redeemer.redeem_due()] == [REDEEMED]  # unlocking: redeem now
    assert queued(r, paid)[1] is not None
    _next_round(anvil, devnet)
    view.poll()
    late = _queue_ticket(r, key, view)  # round r + 1
    _next_round(anvil, devnet)  # r + 2: the sender may withdraw
    view.poll()
    (outcome,) = redeemer.redeem_due()
    assert outcome.outcome == RETRY and "sender is unlocked (withdrawRound" in outcome.reason
    assert "TicketBroker refuses its tickets" in caplog.text
    assert queued(r, late) == (None, None)  # kept: the sender may cancel its unlock
    deposit = deposit_of(devnet, gw)
    devnet.transact(devnet.ticket_broker.functions.cancelUnlock(), key=key)
    view.poll()
    assert [x.outcome for x in redeemer.redeem_due()] == [REDEEMED]
    assert deposit_of(devnet, gw) == deposit - FACE_WEI
