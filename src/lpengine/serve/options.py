"""Options of `python -m lpengine.serve`: go-livepeer's flag names, or the same keys in TOML.

    python -m lpengine.serve -serviceAddr 10.0.0.5:8935 -pricePerUnit 0.5eth -maxSessions auto
    python -m lpengine.serve -config lpengine.toml      # pricePerUnit = "1000", monitor = true

Flags override the file. Every value is checked: each option's text on its own by flags.py,
how they combine here; an unknown or malformed option exits with code 2 and a message naming it.
"""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from lpengine import envs
from lpengine.chain import OFFCHAIN
from lpengine.chain.networks import ARBITRUM_ONE, DEVNET
from lpengine.config import (
    DEFAULT_CLI_PORT,
    DEFAULT_HTTP_PORT,
    ChainConfig,
    EngineConfig,
    ServeConfig,
)
from lpengine.log import level_for_verbosity
from lpengine.price_feed import FixedPriceFeed, PriceFeed, PriceFeedError, wei_per
from lpengine.price_feed_watcher import REFRESH_INTERVAL_S
from lpengine.pricing import WEI, Price
from lpengine.serve.flags import CONVERT, parser


@dataclass(frozen=True)
class Options:
    engine: EngineConfig
    serve: ServeConfig
    log_level: str
    verbosity: int | None = None


class OptionError(ValueError):
    pass


def _load_toml(path: str) -> dict[str, str]:
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise OptionError(f"-config: cannot read {path}: {err}") from None
    raw: dict[str, str] = {}
    for key, value in doc.items():
        if key not in CONVERT:
            raise OptionError(f"-config {path}: unknown option {key!r}")
        if isinstance(value, bool):
            raw[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            raw[key] = str(value)
        else:  # tables and arrays: aiModels, pricePerGateway
            raw[key] = json.dumps(value)
    return raw


@dataclass
class _Values:
    given: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.given.get(name, default)


def _convert(raw: dict[str, str], source: dict[str, str]) -> _Values:
    values = _Values()
    for name, text in raw.items():
        try:
            values.given[name] = CONVERT[name](text)
        except ValueError as err:
            raise OptionError(f"-{name}{source.get(name, '')}: {err}") from None
    return values


def _engine(v: _Values, service_host: str, service_port: int) -> EngineConfig:
    kwargs: dict[str, Any] = {"network": v.get("network", "offchain")}
    for option, attr in (("dataDir", "data_dir"), ("aiModelsDir", "models_dir")):
        if option in v.given:
            kwargs[attr] = v.given[option]
    if "threads" in v.given:
        kwargs["num_threads"] = v.given["threads"]
    host = f"[{service_host}]" if ":" in service_host else service_host
    try:
        price = Price.parse(v.get("pricePerUnit", "0"), v.get("pixelsPerUnit", 1), "pricePerUnit")
    except ValueError as err:
        raise OptionError(f"-{err}") from None
    if kwargs["network"] != OFFCHAIN and "pricePerUnit" not in v.given:
        # NOTE: go-livepeer refuses to start an orchestrator that takes payments without one.
        raise OptionError(f"-pricePerUnit: must be set on -network {kwargs['network']}")
    feed = _price_feed(v, kwargs["network"])
    _check_currencies(v, price, feed)
    chain = ChainConfig(
        eth_url=v.get("ethUrl"),
        eth_addr=v.get("ethAddr"),
        eth_orch_addr=v.get("ethOrchAddr"),
        eth_password=v.get("ethPassword", ""),
        eth_keystore_path=v.get("ethKeystorePath"),
        max_face_value_wei=v.get("maxFaceValue"),
        ticket_ev_wei=v.get("ticketEV"),
        eth_controller=v.get("ethController"),
        min_gas_price_wei=v.get("minGasPrice"),
        max_gas_price_wei=v.get("maxGasPrice"),
        block_polling_interval_s=v.get("blockPollingInterval"),
        chain_stale_after_s=v.get("chainStaleAfter"),
        ai_service_registry=v.get("aiServiceRegistry"),
        register_service_uri=v.get("registerServiceURI"),
        initialize_round=v.get("initializeRound"),
    )
    try:
        return EngineConfig(
            **kwargs,
            service_uri=f"https://{host}:{service_port}",
            nodes=v.get("nodes", ()),
            max_sessions=v.get("maxSessions", 10),
            max_pixel_rate=v.get("maxPixelRate", 0),
            price=price,
            pixels_per_unit=v.get("pixelsPerUnit", 1),
            price_per_gateway=v.get("pricePerGateway", {}),
            auto_adjust_price=v.get("autoAdjustPrice", True),
            price_feed=feed,
            price_feed_interval_s=v.get("priceFeedInterval", REFRESH_INTERVAL_S),
            ai_models=v.get("aiModels", ()),
            orch_secret=v.get("orchSecret"),
            byoc_health_interval_s=v.get("byocHealthInterval", 5.0),
            byoc_stream_debit_interval_s=v.get("byocStreamDebitInterval", 23.0),
            trickle_changefeed=v.get("trickleChangefeed", False),
            chain=chain,
            monitor=v.get("monitor", False),
        )
    except ValueError as err:
        raise OptionError(str(err)) from None


def _price_feed(v: _Values, network: str) -> PriceFeed | None:
    """-priceFeedFixed, or -priceFeedAddr read over -ethUrl (the chain's RPC) on a real network."""
    if "priceFeedAddr" not in v.given:
        return v.get("priceFeedFixed")  # type: ignore[no-any-return]
    if "priceFeedFixed" in v.given:
        raise OptionError("-priceFeedAddr: give either it or -priceFeedFixed, not both")
    if network not in (DEVNET, ARBITRUM_ONE):
        raise OptionError(
            "-priceFeedAddr: reading a Chainlink price feed needs an Ethereum client: a real "
            f"-network ({DEVNET}, {ARBITRUM_ONE}) with -ethUrl; on -network {network} use "
            "-priceFeedFixed BASE/QUOTE=PRICE instead"
        )
    from lpengine.chain.chainlink import connect_feed
    from lpengine.chain.connect import DEFAULT_ETH_URL

    return connect_feed(v.get("ethUrl") or DEFAULT_ETH_URL, v.given["priceFeedAddr"])


def _check_currencies(v: _Values, price: Price, feed: PriceFeed | None) -> None:
    """Every price in a currency other than wei/eth needs a feed that converts it (a feed on
    chain is read, and checked, when the engine starts)."""
    priced: list[tuple[str, Price]] = [("pricePerUnit", price)]
    priced += [("pricePerGateway", p) for p in v.get("pricePerGateway", {}).values()]
    priced += [("aiModels", p) for m in v.get("aiModels", ()) if (p := m.price()) is not None]
    for option, p in priced:
        if p.currency == WEI:
            continue
        if feed is None:
            raise OptionError(
                f"-{option}: currency {p.currency} needs a price feed: add -priceFeedFixed "
                f"ETH/{p.currency}=<{p.currency} per ETH> (or give the price in wei or eth)"
            )
        if not isinstance(feed, FixedPriceFeed):
            continue
        try:
            wei_per(p.currency, feed.latest())
        except PriceFeedError as err:
            raise OptionError(f"-{option}: {err}") from None


def build(argv: list[str] | None = None) -> Options:
    """Parses flags (and the -config file); raises OptionError naming the bad option."""
    args = vars(parser().parse_args(argv))
    raw = {k: str(v) for k, v in args.items() if k != "config"}
    source = {k: "" for k in raw}
    if "config" in args:
        from_file = _load_toml(args["config"])
        source.update({k: f" (in {args['config']})" for k in from_file if k not in raw})
        raw = {**from_file, **raw}
    v = _convert(raw, source)
    service_host, service_port = v.get("serviceAddr", ("127.0.0.1", DEFAULT_HTTP_PORT))
    tls_host, tls_port = service_host, service_port
    plain_host, plain_port = None, 0
    if "httpAddr" in v.given:
        scheme, host, port = v.given["httpAddr"]
        if scheme == "http":
            plain_host, plain_port = host, port
        else:
            tls_host, tls_port = host, port
            if "serviceAddr" not in v.given:  # as go: without -serviceAddr, advertise the bind
                service_host, service_port = host, port
    cli_host, cli_port = v.get("cliAddr", ("127.0.0.1", DEFAULT_CLI_PORT))
    verbosity = v.get("v")
    return Options(
        engine=_engine(v, service_host, service_port),
        serve=ServeConfig(
            host=tls_host,
            port=tls_port,
            plain_host=plain_host,
            plain_port=plain_port,
            cli_host=cli_host,
            cli_port=cli_port,
        ),
        log_level=envs.LPENGINE_LOG_LEVEL.get()
        if verbosity is None
        else level_for_verbosity(verbosity),
        verbosity=verbosity,
    )


def parse(argv: list[str] | None = None) -> Options:
    """`build`, exiting with code 2 and the message on a bad option (as argparse does)."""
    argv = sys.argv[1:] if argv is None else argv
    if "--demo" in argv:  # lpengine only: serve lpengine.testing's tiny models (issue 7)
        from lpengine.testing.demo import demo_argv

        try:
            argv = demo_argv(argv)
        except ValueError as err:
            _exit(str(err))
    try:
        return build(argv)
    except OptionError as err:
        _exit(str(err))


def _exit(message: str) -> NoReturn:
    parser().print_usage(sys.stderr)
    print(f"python -m lpengine.serve: error: {message}", file=sys.stderr)
    sys.exit(2)
