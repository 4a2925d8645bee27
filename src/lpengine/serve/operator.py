"""The operator API (-cliAddr, default 127.0.0.1:7935), with go-livepeer's routes and answers.

Setters take form values (body or query string) like go's; errors are 400 with the text.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from lpengine import log as lplog
from lpengine.auth_token import AuthToken
from lpengine.discovery import OrchestratorInfo, QuoteError
from lpengine.engine import Engine
from lpengine.pm.address import parse as parse_address
from lpengine.pricing import DEFAULT_GATEWAY, Price, gateway_key
from lpengine.serve.forms import form, missing
from lpengine.serve.simulated_routes import simulated_routes
from lpengine.sessions import parse_max_sessions

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _info_json(info: OrchestratorInfo) -> dict[str, object]:
    price, params = info.price_info, info.ticket_params
    return {
        "transcoder": info.transcoder,
        "address": "0x" + info.address.hex(),
        "price_info": None if price is None else price.__dict__,
        "capabilities": sorted(info.capabilities.capacities),
        "capabilities_prices": [p.__dict__ for p in info.capabilities_prices],
        "version": info.capabilities.version,
        "nodes": list(info.nodes),
        "ticket_params": None
        if params is None
        else {
            "face_value_wei": str(params.face_value),
            "win_prob": str(params.win_prob),
            "expiration_block": params.expiration_block,
        },
    }


def operator_app(engine: Engine) -> Starlette:
    async def status(_: Request) -> Response:
        return JSONResponse(engine.status())

    async def orchestrator_info(_: Request) -> Response:
        # What a plain GetOrchestrator would answer, with an empty token instead of minting a
        # live one for an operator who cannot use it.
        no_token = AuthToken(b"", "", 0)
        try:
            return JSONResponse(_info_json(engine.discovery.info(b"", None, no_token)))
        except QuoteError as err:  # e.g. the zero address has no reserve on this chain
            doc = _info_json(engine.discovery.info(b"", None, no_token, quote=False))
            return JSONResponse({**doc, "quote_error": str(err)})

    async def balance(request: Request) -> Response:
        values = await form(request)
        if (absent := missing(values, "sender")) is not None:
            return absent
        try:
            sender = parse_address(values["sender"])
            return JSONResponse(engine.balance(sender, values.get("key", "")))
        except ValueError as err:
            return PlainTextResponse(f"{err}\n", 400)

    async def set_max_sessions(request: Request) -> Response:
        values = await form(request)
        if (absent := missing(values, "maxSessions")) is not None:
            return absent
        try:
            value = parse_max_sessions(values["maxSessions"])
        except ValueError:
            return PlainTextResponse("Max Sessions must be 'auto' or greater than zero\n", 400)
        engine.set_max_sessions(value)
        text = "Max sessions set to auto" if value == "auto" else f"Max sessions set to {value}"
        return PlainTextResponse(text + "\n")

    async def set_price_for_broadcaster(request: Request) -> Response:
        values = await form(request)
        if absent := missing(values, "pricePerUnit", "pixelsPerUnit", "broadcasterEthAddr"):
            return absent
        currency = values.get("currency", "")
        try:
            gateway = gateway_key(values["broadcasterEthAddr"])
            price = Price.parse(
                values["pricePerUnit"] + currency, values["pixelsPerUnit"], "pricePerUnit"
            )
            engine.set_price(gateway, price)  # a currency the feed cannot convert: ValueError
        except ValueError as err:
            return PlainTextResponse(f"{err}\n", 400)
        who = "default" if gateway == DEFAULT_GATEWAY else gateway
        return PlainTextResponse(
            f"Price per pixel set to {values['pricePerUnit']} {currency or 'wei'} for "
            f"{values['pixelsPerUnit']} pixels for broadcaster {who}\n"
        )

    async def set_log_level(request: Request) -> Response:
        values = await form(request)
        if (absent := missing(values, "loglevel")) is not None:
            return absent
        try:
            lplog.set_verbosity(int(values["loglevel"]))
        except ValueError:
            return PlainTextResponse("parameter 'loglevel' must be an integer verbosity\n", 400)
        return PlainTextResponse("")

    async def get_log_level(_: Request) -> Response:
        return PlainTextResponse(str(lplog.verbosity()))

    async def metrics(_: Request) -> Response:
        if not engine.config.monitor:
            return PlainTextResponse("metrics are off: start with -monitor\n", 404)
        return Response(engine.metrics.render(), media_type=PROMETHEUS_TEXT)

    return Starlette(
        routes=[
            Route("/status", status, methods=["GET"]),
            Route("/orchestratorInfo", orchestrator_info, methods=["GET"]),
            Route("/setMaxSessions", set_max_sessions, methods=["POST"]),
            Route("/setPriceForBroadcaster", set_price_for_broadcaster, methods=["POST"]),
            Route("/setLogLevel", set_log_level, methods=["POST"]),
            Route("/getLogLevel", get_log_level, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/balance", balance, methods=["GET"]),
            *simulated_routes(engine),
        ]
    )
