"""Every bench runs in --smoke mode and prints well-formed JSON with its ratios, so none rots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted(
    str(p.relative_to(ROOT).with_suffix("")).replace(os.sep, ".")
    for p in (ROOT / "bench").rglob("bench_*.py")
)


def test_benches_are_found():
    assert "bench.ops.bench_resize" in BENCHES and "bench.ops.bench_convert" in BENCHES


@pytest.mark.parametrize("module", BENCHES)
def test_bench_smoke(module):
    out = subprocess.run(
        [sys.executable, "-m", module, "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert records, out.stdout
    for r in records:
        assert r["machine"]["cpu"]
        assert any(k.startswith("speedup_vs_") and r[k] > 0 for k in r), r
