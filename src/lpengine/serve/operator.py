"""The operator API (-cliAddr, default 127.0.0.1:7935), with go-livepeer's routes and answers.

Setters take form values (body or query string) like go's; errors are 400 with the text.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from lpengine import log as lplog
from lpengine.auth_token import AuthToken
from lpengine.discovery import OrchestratorInfo
from lpengine.engine import Engine
from lpengine.pricing import DEFAULT_GATEWAY, Price, gateway_key
from lpengine.sessions import parse_max_sessions

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


async def _form(request: Request) -> dict[str, str]:
    """Form values as go's r.FormValue sees them: query string, then a urlencoded body."""
    values = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", "replace")
        values.update(parse_qsl(body, keep_blank_values=True))
    return values


def _missing(form: dict[str, str], *names: str) -> Response | None:
    absent = [n for n in names if not form.get(n)]
    return PlainTextResponse(f"missing form params: {', '.join(absent)}\n", 400) if absent else None


def _info_json(info: OrchestratorInfo) -> dict[str, object]:
    price = info.price_info
    return {
        "transcoder": info.transcoder,
        "address": "0x" + info.address.hex(),
        "price_info": None if price is None else price.__dict__,
        "capabilities": sorted(info.capabilities.capacities),
        "capabilities_prices": [p.__dict__ for p in info.capabilities_prices],
        "version": info.capabilities.version,
        "nodes": list(info.nodes),
    }


def operator_app(engine: Engine) -> Starlette:
    async def status(_: Request) -> Response:
        return JSONResponse(engine.status())

    async def orchestrator_info(_: Request) -> Response:
        # What a plain GetOrchestrator would answer, without minting a live auth token.
        placeholder = AuthToken(b"", "", 0)
        return JSONResponse(_info_json(engine.discovery.info(b"", None, placeholder)))

    async def set_max_sessions(request: Request) -> Response:
        form = await _form(request)
        if (missing := _missing(form, "maxSessions")) is not None:
            return missing
        try:
            value = parse_max_sessions(form["maxSessions"])
        except ValueError:
            return PlainTextResponse("Max Sessions must be 'auto' or greater than zero\n", 400)
        engine.set_max_sessions(value)
        text = "Max sessions set to auto" if value == "auto" else f"Max sessions set to {value}"
        return PlainTextResponse(text + "\n")

    async def set_price_for_broadcaster(request: Request) -> Response:
        form = await _form(request)
        if missing := _missing(form, "pricePerUnit", "pixelsPerUnit", "broadcasterEthAddr"):
            return missing
        try:
            gateway = gateway_key(form["broadcasterEthAddr"])
            price = Price.parse(
                form["pricePerUnit"] + form.get("currency", ""),
                form["pixelsPerUnit"],
                "pricePerUnit",
            )
        except ValueError as err:
            return PlainTextResponse(f"{err}\n", 400)
        engine.set_price(gateway, price)
        who = "default" if gateway == DEFAULT_GATEWAY else gateway
        return PlainTextResponse(
            f"Price per pixel set to {form['pricePerUnit']} wei for {form['pixelsPerUnit']} "
            f"pixels for broadcaster {who}\n"
        )

    async def set_log_level(request: Request) -> Response:
        form = await _form(request)
        if (missing := _missing(form, "loglevel")) is not None:
            return missing
        try:
            lplog.set_verbosity(int(form["loglevel"]))
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
        ]
    )
