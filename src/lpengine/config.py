"""Frozen configuration of the engine and its server."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lpengine import envs
from lpengine.ai.model_config import AIModelConfig
from lpengine.chain import NETWORKS, OFFCHAIN, SIMULATED
from lpengine.price_feed import PriceFeed
from lpengine.price_feed_watcher import REFRESH_INTERVAL_S
from lpengine.pricing import ZERO, Price
from lpengine.sessions import DEFAULT_MAX_SESSIONS, MaxSessions, parse_max_sessions

DEFAULT_HTTP_PORT = 8935
DEFAULT_CLI_PORT = 7935


@dataclass(frozen=True)
class ChainConfig:
    """go-livepeer's chain and ticket flags.

    On `-network simulated` the key and ticket flags are in force and `-ethUrl` is not (there
    is no node to reach); off-chain none is (the engine logs the ones that were set).
    """

    eth_url: str | None = None
    eth_addr: str | None = None  # which key of the keystore signs (lowercase 0x-hex)
    eth_orch_addr: str | None = None  # the ticket recipient, when not the node's own address
    eth_password: str = field(default="", repr=False)
    eth_keystore_path: Path | None = None  # default <dataDir>/keystore
    max_face_value_wei: int | None = None
    ticket_ev_wei: int | None = None
    # Real networks (devnet, arbitrum-one-mainnet) only: see lpengine.chain.connect.
    eth_controller: str | None = None  # -ethController; default: the network's
    min_gas_price_wei: int | None = None  # -minGasPrice
    max_gas_price_wei: int | None = None  # -maxGasPrice
    block_polling_interval_s: float | None = None  # -blockPollingInterval (default 5 s)
    chain_stale_after_s: float | None = None  # -chainStaleAfter (default 300 s; 0: never)
    ai_service_registry: bool | None = None  # -aiServiceRegistry: register there too
    register_service_uri: bool | None = None  # -registerServiceURI: set it on start
    initialize_round: bool | None = None  # -initializeRound: initialize rounds nobody has

    def inactive(self, network: str = OFFCHAIN) -> list[str]:
        """The flags that were set but have no effect on `network`."""
        names = {
            "eth_url": "-ethUrl",
            "eth_addr": "-ethAddr",
            "eth_orch_addr": "-ethOrchAddr",
            "eth_keystore_path": "-ethKeystorePath",
            "max_face_value_wei": "-maxFaceValue",
            "ticket_ev_wei": "-ticketEV",
        }
        chain_only = {
            "eth_controller": "-ethController",
            "min_gas_price_wei": "-minGasPrice",
            "max_gas_price_wei": "-maxGasPrice",
            "block_polling_interval_s": "-blockPollingInterval",
            "chain_stale_after_s": "-chainStaleAfter",
            "ai_service_registry": "-aiServiceRegistry",
            "register_service_uri": "-registerServiceURI",
            "initialize_round": "-initializeRound",
        }
        if network == OFFCHAIN:
            names |= chain_only
        elif network == SIMULATED:
            names = {"eth_url": "-ethUrl"} | chain_only
        else:
            names = {}
        unused = [flag for attr, flag in names.items() if getattr(self, attr) is not None]
        if network == OFFCHAIN and self.eth_password:
            unused.append("-ethPassword")
        return unused


@dataclass(frozen=True)
class EngineConfig:
    """What an embedding host chooses; defaults are the embedded, off-chain ones."""

    data_dir: Path = field(default_factory=envs.LPENGINE_DATA_DIR.get)
    models_dir: Path = field(default_factory=envs.LPENGINE_MODELS_DIR.get)
    network: str = OFFCHAIN  # simulated: payments without a node; devnet, arbitrum-one-mainnet
    num_threads: int = field(default_factory=envs.LPENGINE_NUM_THREADS.get)
    # The base URI gateways reach this node at (OrchestratorInfo.transcoder): https://host:port.
    service_uri: str = f"https://127.0.0.1:{DEFAULT_HTTP_PORT}"
    nodes: tuple[str, ...] = ()  # other instances of this orchestrator
    max_sessions: MaxSessions = DEFAULT_MAX_SESSIONS
    max_pixel_rate: int = 0  # encoded pixels/s across transcoding sessions; 0 = no such limit
    price: Price = ZERO  # -pricePerUnit / -pixelsPerUnit
    pixels_per_unit: int = 1  # -pixelsPerUnit: also divides AI model prices that lack their own
    price_per_gateway: Mapping[str, Price] = field(default_factory=dict)
    auto_adjust_price: bool = True
    # Converts prices set in a currency other than wei/eth (e.g. a FixedPriceFeed, or a
    # chain.chainlink.ChainlinkFeed), read at start and every price_feed_interval_s.
    price_feed: PriceFeed | None = None
    price_feed_interval_s: float = REFRESH_INTERVAL_S
    ai_models: tuple[AIModelConfig, ...] = ()
    orch_secret: str | None = field(default=None, repr=False)
    byoc_health_interval_s: float = 5.0  # how often each BYOC worker is probed
    byoc_stream_debit_interval_s: float = 23.0  # how often BYOC streams pay 23 s (go)
    trickle_changefeed: bool = False  # the _changes channel: trickle channels added, removed
    chain: ChainConfig = field(default_factory=ChainConfig)
    monitor: bool = False

    def __post_init__(self) -> None:
        if self.num_threads < 0:
            raise ValueError(
                f"num_threads: expected >= 0 (0 = one per core), got {self.num_threads}"
            )
        if self.network not in NETWORKS:
            raise ValueError(
                f"network: expected one of {', '.join(NETWORKS)}, got {self.network!r}"
            )
        if self.price_feed_interval_s <= 0:
            raise ValueError(
                f"price_feed_interval_s: expected > 0, got {self.price_feed_interval_s}"
            )
        if self.byoc_health_interval_s <= 0:
            raise ValueError(
                f"byoc_health_interval_s: expected > 0, got {self.byoc_health_interval_s}"
            )
        if self.byoc_stream_debit_interval_s <= 0:
            raise ValueError(
                "byoc_stream_debit_interval_s: expected > 0, got "
                f"{self.byoc_stream_debit_interval_s}"
            )
        check_service_uri(self.service_uri, "service_uri")
        for node in self.nodes:
            check_service_uri(node, "nodes")
        parse_max_sessions(self.max_sessions)
        if self.max_pixel_rate < 0:
            raise ValueError(f"max_pixel_rate: expected >= 0 pixels/s, got {self.max_pixel_rate}")

    @property
    def payments_on(self) -> bool:
        """Whether the node takes tickets: on every network but offchain."""
        return self.network != OFFCHAIN


def check_service_uri(uri: str, what: str) -> str:
    """https://host:port (or http://), no path: what gateways and the SDK accept (§12.1)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what}: expected https://host:port, got {uri!r}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{what}: expected https://host:port without a path, got {uri!r}")
    return uri


@dataclass(frozen=True)
class ServeConfig:
    """Where `python -m lpengine.serve` listens."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_HTTP_PORT
    plain_host: str | None = None  # -httpAddr http://host:port: h2c + HTTP/1.1 without TLS
    plain_port: int = 0
    cli_host: str = "127.0.0.1"
    cli_port: int = DEFAULT_CLI_PORT

    def __post_init__(self) -> None:
        for name in ("port", "plain_port", "cli_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                raise ValueError(f"{name}: expected 0..65535, got {value}")
