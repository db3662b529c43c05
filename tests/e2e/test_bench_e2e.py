"""The end-to-end benchmark (benchmarks/bench_e2e.py, in `make bench`) for a few seconds: the
API and a consumer as processes, clients over HTTP, every accepted event landed once the load
stops, and the figures and the plot written."""

from __future__ import annotations

import json
from pathlib import Path

from tests.benchmark_scripts import load_benchmark


def test_a_short_load_lands_every_accepted_event(tmp_path: Path) -> None:
    figures = load_benchmark("bench_e2e").main(
        ["--seconds", "3", "--connections", "2", "--out", str(tmp_path)]
    )

    assert figures["failures"] == 0
    accepted = figures["accepted"]
    assert isinstance(accepted, int)
    assert accepted > 0
    assert accepted % 500 == 0  # whole requests, every event valid
    assert figures["lag_after_load_seconds"] is not None  # everything accepted landed
    saved = json.loads((tmp_path / "bench_e2e.json").read_text())
    assert saved["accepted"] == accepted
    assert saved["samples"][-1][2] >= accepted  # the last sample: landed caught up
    assert saved["machine"]["cpus"] > 0
    assert (tmp_path / "bench_e2e.png").read_bytes().startswith(b"\x89PNG")
