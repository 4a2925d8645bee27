"""Operator routes of `-network simulated`: fund senders and mine blocks on the simulated chain.

    GET  /simulated                                    block, round, gas price, funded senders
    POST /simulated/fund   sender, deposit, reserve    (wei, or with an `eth` suffix)
                           [withdrawRound]             a sender's deposit and reserve, replaced
    POST /simulated/mine   [blocks]                    advance the chain (default 1 block)

Answers 404 on any other network. What they set is kept across restarts.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from lpengine.chain import SimulatedChain
from lpengine.engine import Engine
from lpengine.pm.address import checksum
from lpengine.pm.address import parse as parse_address
from lpengine.pricing import parse_amount
from lpengine.serve.forms import form, missing

NOT_SIMULATED = "not a simulated chain: start with -network simulated\n"


def _whole_wei(text: str, what: str) -> int:
    amount = parse_amount(text, what)
    if amount.denominator != 1:
        raise ValueError(f"{what}: expected a whole number of wei, got {text!r}")
    return int(amount)


def simulated_routes(engine: Engine) -> list[Route]:
    def chain() -> SimulatedChain | None:
        found = engine.billing.chain if engine.billing is not None else None
        return found if isinstance(found, SimulatedChain) else None

    async def describe(_: Request) -> Response:
        if (c := chain()) is None:
            return PlainTextResponse(NOT_SIMULATED, 404)
        return JSONResponse(c.describe())

    async def fund(request: Request) -> Response:
        if (c := chain()) is None:
            return PlainTextResponse(NOT_SIMULATED, 404)
        values = await form(request)
        if (absent := missing(values, "sender", "deposit", "reserve")) is not None:
            return absent
        try:
            sender = parse_address(values["sender"])
            await run_in_threadpool(  # NOTE: it fsyncs the state file
                c.fund,
                sender,
                _whole_wei(values["deposit"], "deposit"),
                _whole_wei(values["reserve"], "reserve"),
                int(values.get("withdrawRound") or 0),
            )
        except ValueError as err:
            return PlainTextResponse(f"{err}\n", 400)
        return PlainTextResponse(
            f"sender {checksum(sender)} has deposit {values['deposit']} and reserve "
            f"{values['reserve']} on the simulated chain\n"
        )

    async def mine(request: Request) -> Response:
        if (c := chain()) is None:
            return PlainTextResponse(NOT_SIMULATED, 404)
        values = await form(request)
        try:
            block = await run_in_threadpool(c.mine, int(values.get("blocks") or 1))
        except ValueError as err:
            return PlainTextResponse(f"blocks: {err}\n", 400)
        return JSONResponse({"block": block})

    return [
        Route("/simulated", describe, methods=["GET"]),
        Route("/simulated/fund", fund, methods=["POST"]),
        Route("/simulated/mine", mine, methods=["POST"]),
    ]
