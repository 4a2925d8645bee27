"""Payment validation: tickets per CPU-second through PaymentReceiver.process_payment, against
the raw libsecp256k1 recover rate (its C functions through coincurve's cffi bindings) measured in
the same run, on the same core.

    python -m bench.pm.bench_validate [--smoke] [--rounds N] [--tickets N]

Every ticket needs one public-key recovery, so the recover rate is the physical limit; the
headline `fraction_of_raw_recover` says how close the whole receiver (HMAC, three keccaks per
ticket, go's checks, nonce sets, exact credit, the batched SQLite writes) comes to it. Rates are
CPU time of the whole process (the store's writer thread included), so they are per core.
Baseline and receiver alternate every ~50 tickets; medians over rounds. Also printed: the keccak
implementations' rates, and the wall time of a payment whose winning ticket is fsync'd.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import coincurve

from bench.harness import check, emit, machine
from lpengine.pm import (
    InMemoryChain,
    Payment,
    PaymentConfig,
    PaymentReceiver,
    PriceInfo,
    Signer,
    Ticket,
    TicketParams,
    TicketSenderParams,
    validator,
)
from lpengine.pm.keccak import keccak_256
from lpengine.pm.signature import personal_digest

PRICE = PriceInfo(1200, 1)
SIZES = (1, 10, 100)
NONCES_PER_PARAMS = 500  # below the 600 a recipientRand accepts


def cpu_rate(fn: Callable[[], int]) -> float:  # for the keccak rates
    """Items per CPU-second of this process (all threads)."""
    start = time.process_time()
    items = fn()
    return items / (time.process_time() - start)


def sign_payments(
    receiver: PaymentReceiver, gateway: Signer, size: int, total: int
) -> list[Payment]:
    payments, params = [], receiver.ticket_params(gateway.address, PRICE.as_fraction())
    nonce, used = 0, 0  # fresh params, so a fresh nonce set
    while len(payments) * size < total:
        if used + size > NONCES_PER_PARAMS:
            params, used = receiver.ticket_params(gateway.address, PRICE.as_fraction()), 0
        payments.append(payment(params, gateway, range(nonce, nonce + size)))
        nonce, used = nonce + size, used + size
    return payments


def payment(params: TicketParams, gateway: Signer, nonces: range) -> Payment:
    assert params.expiration_params is not None
    exp = params.expiration_params
    senders = []
    for n in nonces:
        ticket = Ticket(
            params.recipient, gateway.address, params.face_value, params.win_prob, n,
            params.recipient_rand_hash, exp.creation_round, exp.creation_round_block_hash,
        )  # fmt: skip
        senders.append(TicketSenderParams(n, gateway.sign(ticket.hash())))
    return Payment(params, gateway.address, exp, tuple(senders), PRICE)


def recover_inputs(payment: Payment) -> list[tuple[bytes, bytes]]:
    """(signature with recovery id 0/1, EIP-191 digest) of each ticket: what recover takes."""
    params, exp = payment.ticket_params, payment.expiration_params
    assert params is not None and exp is not None
    inputs = []
    for t in payment.ticket_sender_params:
        ticket = Ticket(
            params.recipient, payment.sender, params.face_value, params.win_prob,
            t.sender_nonce, params.recipient_rand_hash, exp.creation_round,
            exp.creation_round_block_hash,
        )  # fmt: skip
        inputs.append((t.sig[:64] + bytes((t.sig[64] - 27,)), personal_digest(ticket.hash())))
    return inputs


def raw_recover() -> Callable[[bytes, bytes], object]:
    """The bare libsecp256k1 work of one ticket: parse the compact signature, recover the key.

    Called through coincurve's cffi bindings, as the receiver itself does, so the baseline is
    the physical limit and not coincurve's Python wrapper (about 5 % slower)."""
    bindings = validator._BINDINGS
    if bindings is None:  # pragma: no cover
        recover = coincurve.PublicKey.from_signature_and_message
        return lambda sig, digest: recover(sig, digest, hasher=None)
    lib, ffi = bindings
    ctx, new = validator._CONTEXT, ffi.new
    sig_type = ffi.typeof("secp256k1_ecdsa_recoverable_signature *")
    key_type = ffi.typeof("secp256k1_pubkey *")
    parse, recover_c = (
        lib.secp256k1_ecdsa_recoverable_signature_parse_compact,
        lib.secp256k1_ecdsa_recover,
    )

    def recover_one(sig: bytes, digest: bytes) -> object:
        parsed = new(sig_type)
        parse(ctx, parsed, sig[:64], sig[64])
        key = new(key_type)
        recover_c(ctx, key, parsed, digest)
        return key

    return recover_one


def measure(receiver: PaymentReceiver, payments: list[Payment]) -> tuple[float, float]:
    """CPU seconds of raw recovers and of process_payment over the same tickets, interleaved in
    groups of about 50 tickets so both see the same machine (clock, neighbours, caches)."""
    recover = raw_recover()
    clock = time.process_time
    raw_s = ours_s = 0.0
    group: list[Payment] = []
    for i, p in enumerate(payments):
        group.append(p)
        if sum(len(g.ticket_sender_params) for g in group) < 50 and i + 1 < len(payments):
            continue
        inputs = [x for g in group for x in recover_inputs(g)]
        start = clock()
        for sig, digest in inputs:
            recover(sig, digest)
        raw_s += clock() - start
        start = clock()
        for g in group:
            outcome = receiver.process_payment(g, "bench")
            check(outcome.ok, f"payment refused: {outcome.error}")
        ours_s += clock() - start
        group = []
    start = clock()
    receiver.store.commit()  # the writer's share of the work is counted too
    ours_s += clock() - start
    return raw_s, ours_s


def keccak_rates(count: int) -> dict[str, float]:
    data = bytes(232)
    rates = {"pysha3": cpu_rate(lambda: sum(1 for _ in range(count) if keccak_256(data)))}
    try:
        from Crypto.Hash import keccak as pycryptodome
    except ImportError:
        return rates
    rates["pycryptodome"] = cpu_rate(
        lambda: sum(1 for _ in range(count) if pycryptodome.new(data=data, digest_bits=256))
    )
    return rates


def winning_commit_ms(data_dir: Path, orchestrator: Signer, n: int) -> float:
    """Wall time of a 1-ticket payment that wins (faceValue = EV: winProb = 2^256 - 1)."""
    config = PaymentConfig(max_face_value_wei=PaymentConfig().ev_wei)
    chain = InMemoryChain(block=1000)  # free gas, so a faceValue of one EV is acceptable
    receiver = PaymentReceiver.open(
        data_dir, recipient=orchestrator.address, chain=chain, config=config
    )
    gateway = Signer(b"\x07" * 32)
    chain.fund(gateway.address, 10**21, 10**21)
    try:
        payments = sign_payments(receiver, gateway, 1, n)
        samples = []
        for p in payments:
            start = time.perf_counter()
            outcome = receiver.process_payment(p, "winning")
            samples.append((time.perf_counter() - start) * 1e3)
            check(outcome.ok and outcome.winning_tickets == 1, f"expected a win: {outcome}")
        check(len(receiver.queue.all()) == n, "every winning ticket is queued")
        return statistics.median(samples)
    finally:
        receiver.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one round (run by the tests)")
    p.add_argument("--rounds", type=int, default=5, help="alternating measurement rounds")
    p.add_argument("--tickets", type=int, default=2000, help="tickets per round and case")
    a = p.parse_args()
    rounds, total = (1, 100) if a.smoke else (a.rounds, a.tickets)
    info = machine()
    orchestrator, gateway = Signer(b"\x05" * 32), Signer(b"\x06" * 32)
    # A realistic gas price makes faceValue large and winning rare: this measures validation.
    chain = InMemoryChain(block=1000, gas_price_wei=10**9)
    chain.fund(gateway.address, 10**21, 10**21)
    keccak = keccak_rates(2000 if a.smoke else 200_000)
    with tempfile.TemporaryDirectory() as tmp:
        commit_ms = winning_commit_ms(Path(tmp) / "win", orchestrator, 3 if a.smoke else 20)
        receiver = PaymentReceiver.open(
            Path(tmp) / "bench", recipient=orchestrator.address, chain=chain
        )
        try:
            for size in SIZES:
                raw, ours = [], []
                for _ in range(rounds):
                    payments = sign_payments(receiver, gateway, size, total)
                    tickets = sum(len(p.ticket_sender_params) for p in payments)
                    balance = receiver.balance(gateway.address, "bench") or Fraction(0)
                    raw_s, ours_s = measure(receiver, payments)
                    raw.append(tickets / raw_s)
                    ours.append(tickets / ours_s)
                    credited = receiver.balance(gateway.address, "bench") or Fraction(0)
                    check(credited > balance, "the payments were credited")
                rate, raw_rate = statistics.median(ours), statistics.median(raw)
                emit(
                    {
                        "bench": "pm_validate",
                        "case": f"{size} ticket(s) per payment",
                        "tickets_per_payment": size,
                        "tickets": tickets,
                        "rounds": rounds,
                        "machine": info,
                        "tickets_per_s_per_core": round(rate),
                        "raw_recover_per_s": round(raw_rate),
                        "fraction_of_raw_recover": round(rate / raw_rate, 3),
                        "speedup_vs_raw_recover": round(rate / raw_rate, 3),
                        "winning_payment_commit_ms": round(commit_ms, 2),
                        "keccak232_per_s": {k: round(v) for k, v in keccak.items()},
                    }
                )
        finally:
            receiver.close()


if __name__ == "__main__":
    main()
