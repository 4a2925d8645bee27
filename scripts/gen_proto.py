"""Generates src/lpengine/net/ from proto/lp_rpc.proto (`make proto`); the drift test reuses it.

python scripts/gen_proto.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_DIR = ROOT / "proto"
NET_DIR = ROOT / "src" / "lpengine" / "net"
# Every generated file; the drift test compares exactly these.
GENERATED = ("lp_rpc_pb2.py", "lp_rpc_pb2.pyi")


def generate(out: Path) -> None:
    """Runs the pinned protoc (grpcio-tools) on proto/lp_rpc.proto, writing into `out`."""
    from grpc_tools import protoc  # the [test] extra pins grpcio-tools: output is byte-stable

    out.mkdir(parents=True, exist_ok=True)
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            str(PROTO_DIR / "lp_rpc.proto"),
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=NET_DIR, help=f"output folder (default {NET_DIR})")
    generate(p.parse_args().out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
