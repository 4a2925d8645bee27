"""`python -m lpengine.serve` as a user runs it: one subprocess for the module."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from lpengine.serve.flags import FLAGS
from tests.helpers import ServerProcess

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")))
    yield srv
    srv.stop()


def test_logs_what_it_found(server):
    log = server.log
    assert "engine ready: CPU" in log and "GPUs:" in log and "native core" in log


def test_health_and_status(server):
    assert httpx.get(f"{server.url}/healthz", verify=False).text == "ok"
    status = httpx.get(f"{server.cli_url}/status").json()
    assert status["network"] == "offchain"
    assert status["features"]["cpu"] is True
    assert status["hardware"]["cpu_count"] >= 1
    assert status["service_uri"] == server.url


def test_unknown_path_is_404(server):
    assert httpx.get(f"{server.url}/nope", verify=False).status_code == 404
    assert httpx.get(f"{server.cli_url}/nope").status_code == 404


def test_stops_cleanly_on_sigterm(tmp_path):
    srv = ServerProcess("-dataDir", str(tmp_path))
    start = time.monotonic()
    assert srv.stop() == 0
    assert time.monotonic() - start < 10
    assert "stopped" in srv.log


def test_help_lists_options():
    out = subprocess.run(
        [sys.executable, "-m", "lpengine.serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for flag in FLAGS:
        assert f"-{flag}" in out.stdout


@pytest.mark.parametrize(
    "args,named",
    [
        (["-bogus"], "-bogus"),
        (["-serviceAddr", "localhost"], "-serviceAddr"),
        (["-serviceAddr", "127.0.0.1:99999"], "-serviceAddr"),
        (["-network", "arbitrum-one-mainnet"], "-network"),
        (["-threads", "x"], "-threads"),
        (["-threads", "-1"], "num_threads"),
        (["-pricePerUnit", "1USD"], "-pricePerUnit"),
        (["-maxSessions", "0"], "-maxSessions"),
        (["-httpAddr", "http://127.0.0.1:1/path"], "-httpAddr"),
        (["-aiModels", "text-to-image"], "-aiModels"),
        (["-ethAddr", "0x12"], "-ethAddr"),
        (["-monitor=maybe"], "-monitor"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args, named):
    out = subprocess.run(
        [sys.executable, "-m", "lpengine.serve", *args], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert named in out.stderr
