"""The soak (benchmarks/soak.py, `make soak`) for a few seconds: the API and a consumer as
processes under a steady load, the lake's compaction and expiry running meanwhile, and every
promise checked: memory and open files flat, p99 stable, no failed request, the lake
reconciled. (`make soak` runs it for 30 minutes.)"""

from __future__ import annotations

import json
from pathlib import Path

from tests.benchmark_scripts import load_benchmark


def test_a_short_soak_keeps_every_promise(tmp_path: Path) -> None:
    argv = ["--minutes", "0.3", "--sample-seconds", "1.5", "--maintenance-seconds", "6"]
    argv += ["--events-per-second", "5000", "--out", str(tmp_path)]
    # Twenty seconds are all warm-up for the consumer (its windows and first batches grow it
    # by a third): memory is judged by `make soak`'s 30 minutes, leaks of files and failures
    # here too.
    argv += ["--max-growth", "1.0"]
    figures = load_benchmark("soak").main(argv)

    failed = [c for c in figures["checks"] if not c["held"]]  # type: ignore[union-attr]
    assert not failed, failed
    assert figures["reconciled"] is True
    assert figures["accepted"] == figures["rows_in_table"] > 0
    assert len(figures["maintenance"]) >= 1  # type: ignore[arg-type]
    saved = json.loads((tmp_path / "bench_soak.json").read_text())
    assert saved["passed"] is True
    assert len(saved["samples"]) >= 6  # every 1.5 s, less the maintenance rounds
    assert (tmp_path / "bench_soak.png").read_bytes().startswith(b"\x89PNG")
