"""The chain from the command line.

    python -m lpengine.chain register --service-uri https://203.0.113.7:8935 [--ai-service-registry]
    python -m lpengine.chain deploy --eth-url http://127.0.0.1:8545 [--activate 0x...]

`register` sets the node's service URI (the key of `--data-dir`, as `lpengine.serve` uses it)
and prints what it did and whether the node is active, as JSON. `deploy` puts lpengine's
contracts on a devnet (anvil) and prints their addresses.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from lpengine import envs
from lpengine.chain import keystore
from lpengine.chain.connect import DEFAULT_ETH_URL, open_network
from lpengine.chain.networks import CHAINS, DEVNET
from lpengine.config import ChainConfig
from lpengine.pm.address import parse
from lpengine.pm.chainview import ChainError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lpengine.chain", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register", help="set the service URI in ServiceRegistry")
    reg.add_argument("--service-uri", required=True, help="https://host:port gateways reach")
    reg.add_argument("--network", default=DEVNET, choices=sorted(CHAINS))
    reg.add_argument(
        "--eth-url", help=f"JSON-RPC URL(s), comma-separated (devnet: {DEFAULT_ETH_URL})"
    )
    reg.add_argument("--eth-controller", help="the Controller (default: the network's)")
    reg.add_argument("--data-dir", type=Path, default=None, help="the node's data directory")
    reg.add_argument("--eth-keystore-path", type=Path, help="default <data-dir>/keystore")
    reg.add_argument("--eth-addr", help="which key of the keystore")
    reg.add_argument("--eth-password", default="", help="the key's passphrase")
    reg.add_argument("--ai-service-registry", action="store_true", help="register there too")
    dep = sub.add_parser("deploy", help="deploy lpengine's contracts to a devnet")
    dep.add_argument("--eth-url", default=DEFAULT_ETH_URL)
    dep.add_argument("--activate", action="append", default=[], help="orchestrator to activate")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        doc = _register(args) if args.command == "register" else _deploy(args)
    except (ChainError, ValueError, FileNotFoundError) as err:
        print(f"python -m lpengine.chain {args.command}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=1))
    return 0


def _register(args: argparse.Namespace) -> dict[str, object]:
    from lpengine.chain.registration import register

    data_dir = args.data_dir or envs.LPENGINE_DATA_DIR.get()
    key = keystore.load_or_create(
        args.eth_keystore_path or data_dir / keystore.KEYSTORE_DIR,
        wanted=parse(args.eth_addr) if args.eth_addr else None,
        password=args.eth_password,
    )
    config = ChainConfig(eth_url=args.eth_url, eth_controller=args.eth_controller)
    view = open_network(args.network, config, key.address)
    try:
        done = register(
            view, key.private_key, args.service_uri, ai_service_registry=args.ai_service_registry
        )
    finally:
        view.close()
    return dataclasses.asdict(done)


def _deploy(args: argparse.Namespace) -> dict[str, object]:
    from lpengine.chain.devnet import deploy
    from lpengine.chain.rpc import connect

    d = deploy(connect(args.eth_url))
    for orchestrator in args.activate:
        d.activate(orchestrator)
    return {
        name: getattr(d, name).address
        for name in (
            "controller", "ticket_broker", "rounds_manager", "bonding_manager",
            "service_registry", "ai_service_registry", "price_feed",
        )
    }  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
