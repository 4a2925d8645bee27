"""SIGKILL a process while payments with winning tickets stream into it; every acknowledged
winning ticket must be there after a restart, and the old params must still be accepted."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

from lpengine.pm import PriceInfo
from tests.pm.conftest import GATEWAY_KEY, ORCH_KEY
from tests.pm.gateway import Gateway
from tests.pm.receiver_host import params_from_json, payment_to_json

ROOT = Path(__file__).resolve().parents[2]
PAYMENTS, TICKETS_EACH, KILL_AFTER_ACKS = 300, 2, 40


class Host:
    """The receiver in a subprocess, spoken to over pipes."""

    def __init__(self, data_dir: Path, gateway: Gateway) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.pm.receiver_host",
                str(data_dir),
                ORCH_KEY.hex(),
                gateway.address.hex(),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[str] = self.proc.stdin
        self.stdout: IO[str] = self.proc.stdout
        assert self.read() == {"ready": True}, self.proc.stderr.read() if self.proc.stderr else ""

    def send(self, obj: dict[str, Any]) -> None:
        self.stdin.write(json.dumps(obj) + "\n")
        self.stdin.flush()

    def read(self) -> dict[str, Any] | None:
        line = self.stdout.readline()
        return json.loads(line) if line else None

    def ask(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.send(obj)
        answer = self.read()
        assert answer is not None
        return answer

    def close(self) -> int:
        """Closes the pipes (a dead process's too) and waits for the exit code."""
        with contextlib.suppress(BrokenPipeError):
            self.stdin.close()
        code = self.proc.wait(timeout=30)
        self.stdout.close()
        if self.proc.stderr:
            self.proc.stderr.close()
        return code


def test_sigkill_loses_no_acknowledged_winning_ticket(tmp_path: Path) -> None:
    gateway = Gateway(GATEWAY_KEY)
    price = PriceInfo(1, 1)
    host = Host(tmp_path, gateway)
    params = params_from_json(host.ask({"op": "params"})["params"])
    assert params.win_prob == 2**256 - 1  # every ticket wins
    payments = [
        gateway.pay(params, range(i * TICKETS_EACH, (i + 1) * TICKETS_EACH), price)
        for i in range(PAYMENTS)
    ]

    def stream() -> None:
        try:
            for i, p in enumerate(payments):
                host.send({"op": "pay", "id": i, "payment": payment_to_json(p)})
        except (BrokenPipeError, ValueError):  # killed mid-stream: expected
            pass

    writer = threading.Thread(target=stream, daemon=True)
    writer.start()
    acked: list[int] = []
    while (answer := host.read()) is not None:
        assert answer["ok"] and answer["won"] == TICKETS_EACH, answer
        acked.append(answer["id"])
        if len(acked) == KILL_AFTER_ACKS:
            host.proc.send_signal(signal.SIGKILL)  # payments are still in flight
    # Acks already in the pipe when the process died were sent after their commit: they count.
    writer.join(timeout=30)
    assert host.close() == -signal.SIGKILL
    assert KILL_AFTER_ACKS <= len(acked) < PAYMENTS, "the kill must land mid-stream"

    restarted = Host(tmp_path, gateway)
    try:
        dump = restarted.ask({"op": "dump"})
        stored = set(dump["sigs"])
        for i in acked:
            for t in payments[i].ticket_sender_params:
                assert t.sig.hex() in stored, f"acknowledged payment {i} lost a winning ticket"
        # Stored tickets and credits agree (both committed together), and cover every ack.
        credited = Fraction(*dump["balance"])
        assert credited == len(stored) * params.face_value
        assert len(stored) >= len(acked) * TICKETS_EACH
        # The params issued before the crash are still good (persisted secret) ...
        fresh = gateway.pay(params, [10**6], price)
        assert restarted.ask({"op": "pay", "id": -1, "payment": payment_to_json(fresh)})["ok"]
        # ... and replaying an acknowledged payment is refused (persisted nonces).
        replay = restarted.ask(
            {"op": "pay", "id": -2, "payment": payment_to_json(payments[acked[0]])}
        )
        assert not replay["ok"] and "already seen" in replay["error"]
    finally:
        restarted.close()
