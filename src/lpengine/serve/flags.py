"""The options of `python -m lpengine.serve`: each flag's help, and how its text becomes a value.

Names are go-livepeer's flag names (lpengine's own say so in their help); a TOML file given with
-config uses the same keys. `FLAGS` (through `parser()`) is what `-help` prints; `CONVERT` turns
an option's text into its value or raises ValueError saying what was expected. options.py builds
the configs from them.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpengine import envs
from lpengine.ai.model_config import parse_ai_models
from lpengine.chain import NETWORKS
from lpengine.config import DEFAULT_CLI_PORT, DEFAULT_HTTP_PORT, check_service_uri
from lpengine.pm.address import parse as parse_address
from lpengine.price_feed import FixedPriceFeed
from lpengine.pricing import gateway_key, parse_positive_int, parse_price_per_gateway
from lpengine.serve.addresses import eth_url, host_port, http_addr
from lpengine.sessions import parse_max_sessions


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
