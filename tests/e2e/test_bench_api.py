"""The API-against-bare-uvicorn benchmark (benchmarks/bench_api.py, in `make bench`) for a
second a server: both servers answer the same load without a failure, every request to the
API is accepted whole, and the ratio the guard reads is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmark_scripts import load_benchmark


def test_the_api_and_bare_uvicorn_take_the_same_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = load_benchmark("bench_api").main(
        ["--seconds", "1", "--rounds", "1", "--connections", "2", "--out", str(tmp_path)]
    )

    api, bare = figures["api"], figures["bare"]
    assert isinstance(api, dict)
    assert isinstance(bare, dict)
    for server in (api, bare):
        assert server["requests"] > 0
        assert server["failures"] == 0, server["statuses"]
    # The API accepted every event it was sent: 500 valid events a request, each new.
    assert api["events_per_second"] == pytest.approx(api["requests_per_second"] * 500)
    assert api["server_cpu_seconds_per_million"] > 0
    ratio = figures["api_vs_bare"]
    assert isinstance(ratio, float)
    assert ratio == pytest.approx(api["requests_per_second"] / bare["requests_per_second"])
    saved = json.loads((tmp_path / "bench_api.json").read_text())
    assert saved["api_vs_bare"] == ratio
    assert saved["machine"]["cpus"] > 0
    assert "API / bare uvicorn" in capsys.readouterr().out
