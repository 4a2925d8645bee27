"""Options of `python -m lpengine.serve`: go-livepeer's flag names, or the same keys in TOML.

    python -m lpengine.serve -serviceAddr 10.0.0.5:8935 -pricePerUnit 0.5eth -maxSessions auto
    python -m lpengine.serve -config lpengine.toml      # pricePerUnit = "1000", monitor = true

Flags override the file. Every value is checked here; an unknown or malformed option exits with
code 2 and a message naming it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from lpengine import envs
from lpengine.ai.model_config import parse_ai_models
from lpengine.chain import NETWORKS, OFFCHAIN
from lpengine.chain.networks import ARBITRUM_ONE, DEVNET
from lpengine.config import (
    DEFAULT_CLI_PORT,
    DEFAULT_HTTP_PORT,
    ChainConfig,
    EngineConfig,
    ServeConfig,
    check_service_uri,
)
from lpengine.log import level_for_verbosity
from lpengine.pm.address import parse as parse_address
from lpengine.price_feed import FixedPriceFeed, PriceFeed, PriceFeedError, wei_per
from lpengine.price_feed_watcher import REFRESH_INTERVAL_S
from lpengine.pricing import (
    WEI,
    Price,
    gateway_key,
    parse_positive_int,
    parse_price_per_gateway,
)
from lpengine.serve.addresses import eth_url, host_port, http_addr
from lpengine.sessions import parse_max_sessions


@dataclass(frozen=True)
class Options:
    engine: EngineConfig
    serve: ServeConfig
    log_level: str
    verbosity: int | None = None


@dataclass(frozen=True)
class Flag:
    help: str
    metavar: str = "VALUE"
    is_bool: bool = False
    default: str | None = None


FLAGS: dict[str, Flag] = {
    "config": Flag("TOML file with any of these options as keys (flags win)", "FILE"),
    "serviceAddr": Flag(
        f"public host:port gateways reach, and TLS listens on it (default 127.0.0.1:"
        f"{DEFAULT_HTTP_PORT})",
        "HOST:PORT",
    ),
    "httpAddr": Flag(
        "host:port to bind TLS on instead of -serviceAddr's (advertised too without "
        "-serviceAddr), or http://host:port for an extra plaintext listener (h2c + HTTP/1.1)",
        "ADDR",
    ),
    "cliAddr": Flag(f"operator API host:port (default 127.0.0.1:{DEFAULT_CLI_PORT})", "HOST:PORT"),
    "dataDir": Flag(
        f"state directory (default ${envs.LPENGINE_DATA_DIR.name} or ~/.lpengine)", "DIR"
    ),
    "aiModelsDir": Flag(f"model folders (default ${envs.LPENGINE_MODELS_DIR.name})", "DIR"),
    "network": Flag(
        "offchain (default); simulated: payments on against an in-process chain, for tests "
        "and demos only; devnet: anvil with lpengine's contracts (-ethUrl, default "
        "http://127.0.0.1:8545); arbitrum-one-mainnet",
        "NAME",
    ),
    "pricePerUnit": Flag(
        "base price per pixelsPerUnit in wei, eth or a currency a price feed converts, e.g. "
        "1000, 0.5eth, 0.0001USD",
        "PRICE",
    ),
    "pixelsPerUnit": Flag("units of work the base price covers (default 1)", "N"),
    "pricePerGateway": Flag('JSON {"gateways": [...]} or a path to it', "JSON"),
    "priceFeedFixed": Flag(
        "a fixed rate converting currency prices, e.g. ETH/USD=3000 (lpengine only; go-livepeer "
        "reads a Chainlink feed)",
        "PAIR=PRICE",
    ),
    "priceFeedAddr": Flag(
        "Chainlink price feed (aggregator) converting currency prices, read over -ethUrl on a "
        "real -network",
        "0x...",
    ),
    "priceFeedInterval": Flag("how often the price feed is read, e.g. 1h, 30m, 90s", "DURATION"),
    "maxSessions": Flag("concurrent transcoding sessions: a number or auto (default 10)", "N|auto"),
    "maxPixelRate": Flag(
        "encoded pixels per second of media all transcoding sessions may take together; the "
        "session limit follows the streams' measured cost (lpengine only; 0 = none)",
        "PIXELS",
    ),
    "aiModels": Flag("aiModels.json path, inline JSON, or pipeline:model:warm,...", "MODELS"),
    "orchSecret": Flag(
        "secret shared with remote workers and BYOC, or a file holding it", "SECRET"
    ),
    "byocHealthInterval": Flag(
        "how often each BYOC worker is probed, e.g. 5s (default; lpengine only)", "DURATION"
    ),
    "byocStreamDebitInterval": Flag(
        "how often each BYOC stream is debited 23 s of its price (default 23s; lpengine only)",
        "DURATION",
    ),
    "trickleChangefeed": Flag(
        "publish trickle channels created and removed on the _changes channel (default false; "
        "lpengine only)",
        is_bool=True,
    ),
    "ethUrl": Flag("Ethereum JSON-RPC URL, or several comma-separated (failover)", "URLS"),
    "ethController": Flag("the Controller contract (default: the network's)", "0x..."),
    "minGasPrice": Flag("gas price floor for tx costs and transactions, in wei", "WEI"),
    "maxGasPrice": Flag("no transaction is sent while gas costs more (wei; 0: no cap)", "WEI"),
    "blockPollingInterval": Flag("how often the chain head is polled (default 5s)", "DURATION"),
    "chainStaleAfter": Flag(
        "no ticket params once no new block came for this long (default 5m; 0s: never; "
        "lpengine only)",
        "DURATION",
    ),
    "aiServiceRegistry": Flag("also register in the AI ServiceRegistry", is_bool=True),
    "registerServiceURI": Flag(
        "set the service URI on chain at start when it differs (lpengine only)", is_bool=True
    ),
    "initializeRound": Flag(
        "initialize each round nobody has initialized yet (the node must be active)", is_bool=True
    ),
    "ethAddr": Flag("which key of the keystore the node signs with", "0x..."),
    "ethOrchAddr": Flag("ticket recipient, when not the node's own address", "0x..."),
    "ethPassword": Flag("passphrase of the node's key, or a file holding it", "PASSWORD"),
    "ethKeystorePath": Flag("keystore directory or key file (default <dataDir>/keystore)", "PATH"),
    "maxFaceValue": Flag("cap on a ticket's face value in wei", "WEI"),
    "ticketEV": Flag("expected value of one ticket in wei (default 8000000000)", "WEI"),
    "autoAdjustPrice": Flag("truncate quotes to 3 decimals of wei (default true)", is_bool=True),
    "monitor": Flag("serve Prometheus /metrics on the operator API", is_bool=True),
    "nodes": Flag("comma-separated URLs of this orchestrator's other instances", "URLS"),
    "threads": Flag("native CPU op threads (0 = one per core)", "N"),
    "v": Flag("log verbosity, go-livepeer style (3 info, 6 debug)", "LEVEL"),
}


class OptionError(ValueError):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lpengine.serve",
        description="Run an lpengine orchestrator: gRPC + HTTPS on one TLS port.",
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,
    )
    for name, flag in FLAGS.items():
        if flag.is_bool:
            p.add_argument(f"-{name}", nargs="?", const="true", metavar="BOOL", help=flag.help)
        else:
            p.add_argument(f"-{name}", metavar=flag.metavar, help=flag.help)
    return p


def _bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def _address(value: str) -> str:
    key = gateway_key(value)
    if key == "default":
        raise ValueError(f"expected a 0x-prefixed 20-byte address, got {value!r}")
    return key


def _wei(value: str) -> int:
    return parse_positive_int(value, "wei amount")


def _file_or_text(value: str) -> str:
    path = Path(value)
    if len(value) < 4096 and not value.lstrip().startswith(("{", "[")) and path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value


def _network(value: str) -> str:
    if value not in NETWORKS:
        raise ValueError(f"{value!r} is not a network; use one of {', '.join(NETWORKS)}")
    return value


def _duration_or_zero_s(value: str) -> float:
    return 0.0 if value.strip() in ("0", "0s") else _duration_s(value)


def _duration_s(value: str) -> float:
    m = re.match(r"^(\d+(?:\.\d+)?)([smh]?)$", value.strip())
    seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)] if m else 0
    if seconds <= 0:
        raise ValueError(f"expected a positive duration such as 1h, 30m or 90s, got {value!r}")
    return seconds


def _pixel_rate(value: str) -> int:
    """Pixels per second: an integer, optionally with a k, M or G suffix (250M)."""
    m = re.match(r"^(\d+(?:\.\d+)?)([kMG]?)$", value.strip())
    if not m:
        raise ValueError(f"expected pixels per second such as 250000000 or 250M, got {value!r}")
    return round(float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)])


def _eth_urls(value: str) -> str:
    return ",".join(eth_url(u.strip()) for u in value.split(",") if u.strip()) or eth_url(value)


def _nodes(value: str) -> tuple[str, ...]:
    return tuple(check_service_uri(n.strip(), "node") for n in value.split(",") if n.strip())


# How each option's text becomes a value.
CONVERT: dict[str, Callable[[str], Any]] = {
    "serviceAddr": host_port,
    "httpAddr": http_addr,
    "cliAddr": host_port,
    "dataDir": lambda v: Path(v).expanduser(),
    "aiModelsDir": lambda v: Path(v).expanduser(),
    "network": _network,
    "pricePerUnit": str,
    "pixelsPerUnit": lambda v: parse_positive_int(v, "pixelsPerUnit"),
    "pricePerGateway": lambda v: parse_price_per_gateway(_file_or_text(v)),
    "priceFeedFixed": FixedPriceFeed.parse,
    "priceFeedAddr": parse_address,
    "priceFeedInterval": _duration_s,
    "maxSessions": parse_max_sessions,
    "maxPixelRate": _pixel_rate,
    "aiModels": parse_ai_models,
    "orchSecret": _file_or_text,
    "byocHealthInterval": _duration_s,
    "byocStreamDebitInterval": _duration_s,
    "trickleChangefeed": _bool,
    "ethUrl": _eth_urls,
    "ethController": _address,
    "minGasPrice": _wei,
    "maxGasPrice": _wei,
    "blockPollingInterval": _duration_s,
    "chainStaleAfter": _duration_or_zero_s,
    "aiServiceRegistry": _bool,
    "registerServiceURI": _bool,
    "initializeRound": _bool,
    "ethAddr": _address,
    "ethOrchAddr": _address,
    "ethPassword": _file_or_text,
    "ethKeystorePath": lambda v: Path(v).expanduser(),
    "maxFaceValue": _wei,
    "ticketEV": _wei,
    "autoAdjustPrice": _bool,
    "monitor": _bool,
    "nodes": _nodes,
    "threads": _int,
    "v": _int,
}


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
