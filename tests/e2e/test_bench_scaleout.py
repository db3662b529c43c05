"""The scale-out benchmark (benchmarks/bench_scaleout.py, in `make bench`) on a few hundred
events: one and two consumer processes on the same stream, each run landing every valid event
exactly once, and the table, the figures and the plot produced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmark_scripts import load_benchmark


def test_one_and_two_consumers_land_each_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Small batches commit at once: the run's time is the processes', not the batch timer's.
    monkeypatch.setenv("EVENTLAKE_CONSUMER__MAX_BATCH_SECONDS", "0.2")
    argv = ["--events", "400", "--load-events", "200", "--load-seconds", "0.3"]
    runs = load_benchmark("bench_scaleout").main(
        [*argv, "--consumers", "1", "2", "--out", str(tmp_path)]
    )

    assert [run.consumers for run in runs] == [1, 2]
    for run in runs:
        assert run.exactly_once, run
        assert run.rows > 500  # the backlog and the load, less duplicates and invalid events
        assert run.lag_seconds > 0
        assert run.retries >= run.conflicts >= 0
    figures = json.loads((tmp_path / "bench_scaleout.json").read_text())
    assert [r["consumers"] for r in figures["runs"]] == [1, 2]
    assert figures["runs"][0]["ratio_vs_one"] == 1.0
    assert (tmp_path / "bench_scaleout.png").read_bytes().startswith(b"\x89PNG")
    out = capsys.readouterr().out
    assert "events/s landed" in out
    assert "1.00x" in out
