"""The engine's BYOC part embedded, without the server: in-process callables registered as
capabilities, go's check order, the advertisement, body limits and failures."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lpengine.byoc import Byoc, JobInput, JobOutput, JobRefused, Registration, RegistrationError
from lpengine.capabilities import Capability
from lpengine.capability_registry import CapabilityRegistry
from lpengine.payment import Payment
from lpengine.pricing import PriceBook


def make_byoc(**kw: Any) -> tuple[Byoc, CapabilityRegistry, PriceBook]:
    registry, prices = CapabilityRegistry(version="1.0.0"), PriceBook()

    def no_payments(payment: Payment, key: str) -> None:
        raise AssertionError("off-chain: no payment is processed")

    byoc = Byoc(
        registry=registry, prices=prices, billing=None, process_payment=no_payments,
        service_uri="https://127.0.0.1:8935", orch_secret="s", **kw,
    )  # fmt: skip
    return byoc, registry, prices


def header(capability: str, timeout_s: int = 5, request: str = '{"k": 1}') -> str:
    doc = {"id": "j", "request": request, "capability": capability, "timeout_seconds": timeout_s}
    return base64.b64encode(json.dumps(doc).encode()).decode()


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


async def upper(job: JobInput) -> JobOutput:
    return JobOutput(job.body.upper(), content_type="text/plain", metadata=job.subpath)


def words(job: JobInput) -> JobOutput:  # a plain function: runs in a worker thread
    return JobOutput(json.dumps({"words": job.body.decode().split(), "req": job.request}).encode())


def test_secret():
    byoc, _, _ = make_byoc()
    assert byoc.check_secret("s") and not byoc.check_secret("x") and not byoc.check_secret(None)
    nobody, _, _ = make_byoc()
    nobody._secret = None
    assert not nobody.check_secret("")


def test_callables_run_as_capabilities_and_are_advertised():
    byoc, registry, prices = make_byoc()
    byoc.register_callable("upper", upper, capacity=2, price_per_unit=3, price_scaling=2)
    byoc.register_callable("words", words)
    advertised = registry.advertised()
    assert advertised.capacities[Capability.BYOC] == 3
    models = advertised.per_capability[Capability.BYOC]
    assert models["upper"].capacity == 2 and models["words"].capacity == 1
    assert prices.capability_prices("default", [(Capability.BYOC, "upper")])[0].wei_per_unit == 1.5

    async def go() -> tuple[Any, Any]:
        job = byoc.accept(header("upper"), None)
        assert registry.advertised().per_capability[Capability.BYOC]["upper"].capacity == 1
        first = await byoc.run(job, "upper/sub", body(b"hello ", b"world"), "text/plain")
        second = await byoc.run(byoc.accept(header("words"), None), "words", body(b"a b c"))
        return first, second

    first, second = asyncio.run(go())
    assert (first.status, first.body) == (200, b"HELLO WORLD")
    assert first.headers == {
        "Livepeer-Balance": "0", "Content-Type": "text/plain", "X-Metadata": "upper/sub",
    }  # fmt: skip
    assert json.loads(second.body) == {"words": ["a", "b", "c"], "req": {"k": 1}}
    assert registry.advertised().per_capability[Capability.BYOC]["upper"].capacity == 2


def test_sse_from_a_callable():
    byoc, _, _ = make_byoc()

    async def events(job: JobInput) -> JobOutput:
        async def gen() -> AsyncIterator[bytes]:
            yield b"data: 1\n\n"
            yield b"data: [DONE]\n\n"

        return JobOutput(gen(), content_type="text/event-stream")

    byoc.register_callable("events", events)

    async def go() -> bytes:
        result = await byoc.run(byoc.accept(header("events"), None), "events", body())
        assert result.events is not None and result.headers["Livepeer-Payment-Balance"] == "0"
        return b"".join([c async for c in result.events])

    assert asyncio.run(go()) == b'data: 1\n\ndata: {"balance": 0.000}\n\ndata: [DONE]\n\n'
    assert byoc.table.free("events") == 1


def test_refusals_in_gos_order_release_the_slot():
    byoc, _, _ = make_byoc()
    byoc.register_callable("one", upper, capacity=1)
    for h, status, text in [
        (None, 400, "Could not verify job creds"),
        (header("one", timeout_s=0), 400, "no timeout_seconds set"),
        (header("two"), 503, "No capacity available for capability"),
        (header("one", request="[]"), 400, "Unable to unmarshal job request details"),
    ]:
        with pytest.raises(JobRefused) as refused:
            byoc.accept(h, None)
        assert refused.value.status == status and refused.value.text.startswith(text)
    held = byoc.accept(header("one"), None)
    with pytest.raises(JobRefused) as refused:
        byoc.accept(header("one"), None)
    assert refused.value.status == 503
    asyncio.run(byoc.run(held, "", body()))
    assert byoc.table.free("one") == 1


def test_an_oversized_body_is_refused_and_charged_nothing_off_chain():
    byoc, _, _ = make_byoc(max_request_bytes=10)
    byoc.register_callable("upper", upper)
    result = asyncio.run(byoc.run(byoc.accept(header("upper"), None), "", body(b"x" * 8, b"y" * 8)))
    assert (result.status, result.body) == (413, b"request body larger than 10 bytes\n")
    assert byoc.table.free("upper") == 1


def test_a_failing_or_slow_callable():
    byoc, _, _ = make_byoc()

    async def boom(job: JobInput) -> JobOutput:
        raise RuntimeError("model exploded")

    async def slow(job: JobInput) -> JobOutput:
        await asyncio.sleep(10)
        return JobOutput()

    byoc.register_callable("boom", boom)
    byoc.register_callable("slow", slow)
    r = asyncio.run(byoc.run(byoc.accept(header("boom"), None), "", body()))
    assert (r.status, r.body) == (500, b"job not able to be processed err=model exploded\n")
    r = asyncio.run(byoc.run(byoc.accept(header("slow", timeout_s=1), None), "", body()))
    assert (r.status, r.body) == (
        500,
        b"job not able to be processed err=context deadline exceeded\n",
    )
    assert byoc.table.free("boom") == 1 and byoc.table.free("slow") == 1


def test_unregister_withdraws_and_registration_checks():
    byoc, registry, prices = make_byoc()
    byoc.register_callable("a", upper, price_per_unit=1)
    assert byoc.unregister("a") and not byoc.unregister("a")
    assert Capability.BYOC not in registry.advertised().capacities
    assert prices.capability_price("default", Capability.BYOC, "a") is None
    with pytest.raises(RegistrationError, match="capacity"):
        byoc.register_callable("a", upper, capacity=0)
    with pytest.raises(ValueError, match="needs a price feed"):
        byoc.register_callable("a", upper, price_per_unit=1, currency="USD")
    with pytest.raises(RegistrationError, match="url"):
        byoc.register(Registration(name="a", capacity=1))
    eth = Registration(name="e", capacity=1, url="http://h:1", price_per_unit=1, currency="eth")
    assert eth.price.amount_per_unit == 10**18 and eth.price.currency == "WEI"
