"""Fixtures for server tests: the livepeer-gateway SDK in its own virtual environment, and a
funded gateway with its discovered quote for each module's own `server` fixture."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess, run_sdk_script
from tests.pm.conftest import GATEWAY_KEY
from tests.serve.paying_gateway import WireGateway, funded_gateway

ROOT = Path(__file__).resolve().parents[2]
SDK_VERSION = "1.0.0"
SDK_VENV = ROOT / ".venv-sdk"  # gitignored; made once, reused by every later session
SDK_CLIENT = Path(__file__).with_name("sdk_client.py")


def _python_312() -> str | None:
    """A Python >= 3.12 (the SDK's floor): $LPENGINE_SDK_PYTHON, PATH, then pyenv."""
    home = os.path.expanduser("~")
    candidates = [
        os.environ.get("LPENGINE_SDK_PYTHON"),
        shutil.which("python3.12"),
        shutil.which("python3.13"),
        *sorted(glob.glob(f"{home}/.pyenv/versions/3.1[2-9]*/bin/python")),
    ]
    for candidate in candidates:
        if not candidate:
            continue
        check = "import sys; sys.exit(sys.version_info < (3, 12))"
        if subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    return None


def _sdk_ready(python: Path) -> bool:
    check = (
        "import importlib.metadata as m, sys; "
        f"sys.exit(m.version('livepeer-gateway') != '{SDK_VERSION}')"
    )
    return python.exists() and subprocess.run([python, "-c", check]).returncode == 0


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    """The venv Python with livepeer-gateway installed (pip install on the first run only)."""
    python = SDK_VENV / "bin" / "python"
    if _sdk_ready(python):
        return python
    base = _python_312()
    if base is None:
        pytest.skip("the livepeer-gateway SDK needs Python >= 3.12; set LPENGINE_SDK_PYTHON")
    shutil.rmtree(SDK_VENV, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(SDK_VENV)], check=True)
    subprocess.run(
        [python, "-m", "pip", "install", "-q", f"livepeer-gateway=={SDK_VERSION}"],
        check=True,
        timeout=900,
    )
    assert _sdk_ready(python)
    return python


@pytest.fixture(scope="session")
def sdk(sdk_python: Path):  # type: ignore[no-untyped-def]
    """sdk(do="info", url=...) -> the JSON the SDK client script prints."""

    def call(**command: Any) -> Any:
        return run_sdk_script(sdk_python, SDK_CLIENT, command)

    return call


@pytest.fixture(scope="module")
def gateway(server: ServerProcess) -> WireGateway:
    """A gateway whose deposit and reserve the module's `-network simulated` server funded."""
    return funded_gateway(server.cli_url, GATEWAY_KEY)


@pytest.fixture(scope="module")
def info(server: ServerProcess, gateway: WireGateway) -> pb.OrchestratorInfo:
    """What the module's server quotes that gateway at discovery (price, ticket params)."""
    with server.grpc_channel() as channel:
        return gateway.discover(channel)
