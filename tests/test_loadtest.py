"""``make loadtest`` works end to end: the API starts, locust drives it, the figures print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_short_load_test_runs_and_reports_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "loadtest" / "run.py"), "--seconds", "5", "--users", "2"],
        env={**os.environ, "LOADTEST_POOL": "20"},  # fewer bodies to build: a quicker start
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "(0 failed)" in out
    for figure in ("events/s", "p50 latency", "p99 latency"):
        assert figure in out
