"""The guard against regressions (benchmarks/guard.py, the end of `make bench`): the ratios
read back from the benchmarks' figure files, compared with benchmarks/baseline.json; a ratio
under its floor or a benchmark that did not run fails it, a broken baseline is said."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.benchmark_scripts import load_benchmark

guard = load_benchmark("guard")
figures = load_benchmark("figures")

MEASURED = {
    "processing": {
        "steps": [
            {"step": "JSON parsing", "speedup": 20.0},
            {"step": "Whole path, bytes → Arrow", "speedup": 40.0},
        ],
        "peers": {
            "polars.read_ndjson (1 thread)": {"seconds": 1.5, "rust_speedup": 3.0},
            "DuckDB read_json (1 thread)": {"seconds": 0.75, "rust_speedup": 1.5},
        },
        "four_calls_vs_process": {"four_calls_s": 0.7, "process_s": 0.63, "ratio": 0.9},
    },
    "parquet": {"parquet_vs_pyarrow": 1.6},
    "consumer": {"stream_vs_file": 0.8},
    "routing": {"routed_vs_whole": 0.95},
    "memory": {"short_vs_long_peak": 0.97},
    "e2e": {"landed_vs_accepted": 0.9},
    "api": {"api_vs_bare": 0.2},
    "scaleout": {
        "runs": [{"consumers": 1, "ratio_vs_one": 1.0}, {"consumers": 2, "ratio_vs_one": 1.3}]
    },
}


def write_reports(directory: Path, measured: dict[str, dict[str, Any]]) -> Path:
    for name, content in measured.items():
        figures.save(name, content, directory)
    return directory


def write_baseline(path: Path, tolerance: float = 0.2, **ratios: float) -> Path:
    values = {
        "core_vs_python": 38.0,
        "core_vs_polars": 3.0,
        "core_vs_duckdb": 1.5,
        "four_calls_vs_process": 0.9,
        "parquet_vs_pyarrow": 1.5,
        "stream_vs_file": 0.8,
        "routed_vs_whole": 0.9,
        "consumer_memory_bounded": 0.95,
        "e2e_landed_vs_accepted": 0.8,
        "api_vs_bare_uvicorn": 0.18,
        "two_consumers_vs_one": 1.2,
    } | ratios
    path.write_text(json.dumps({"tolerance": tolerance, "ratios": values}))
    return path


def run(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    code = guard.main(["--reports", str(tmp_path / "reports"), "--baseline", str(baseline), *extra])
    return code, capsys.readouterr().out


def test_ratios_at_or_above_their_floor_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_reports(tmp_path / "reports", MEASURED)
    # 0.95 routed/whole against a baseline of 1.1 with 20%: the floor is 0.88, so it passes.
    code, out = run(tmp_path, write_baseline(tmp_path / "b.json", routed_vs_whole=1.1), capsys)
    assert code == 0, out
    assert "guard passed" in out
    saved = json.loads((tmp_path / "reports" / "bench_routing.json").read_text())
    assert saved["machine"]["cpus"] > 0  # every figure file says what it was measured on


def test_a_ratio_below_its_floor_fails_and_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_reports(tmp_path / "reports", MEASURED)
    # polars at 3.0 against a baseline of 5.0: the floor is 4.0.
    code, out = run(tmp_path, write_baseline(tmp_path / "b.json", core_vs_polars=5.0), capsys)
    assert code == 1
    assert "guard failed: core_vs_polars" in out
    assert "regressed" in out


def test_a_benchmark_that_did_not_run_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_reports(tmp_path / "reports", {k: v for k, v in MEASURED.items() if k != "scaleout"})
    code, out = run(tmp_path, write_baseline(tmp_path / "b.json"), capsys)
    assert code == 1
    assert "two_consumers_vs_one" in out
    assert "not measured" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not a baseline"),
        ('{"ratios": {}}', "is not a baseline"),
        ('{"tolerance": 1.5, "ratios": {}}', "tolerance must be a fraction"),
        ('{"tolerance": 0.1, "ratios": {"made_up": 2}}', "names ratios no benchmark measures"),
        ('{"tolerance": 0.1, "ratios": {"core_vs_polars": "fast"}}', "is not a baseline"),
    ],
)
def test_a_broken_baseline_is_said_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    write_reports(tmp_path / "reports", MEASURED)
    baseline = tmp_path / "b.json"
    baseline.write_text(content)
    code, out = run(tmp_path, baseline, capsys)
    assert code == 2
    assert message in out


def test_figures_that_lack_a_ratio_are_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_reports(tmp_path / "reports", {**MEASURED, "routing": {"something_else": 1}})
    code, out = run(tmp_path, write_baseline(tmp_path / "b.json"), capsys)
    assert code == 2
    assert "does not hold routed_vs_whole" in out


def test_update_writes_what_was_measured_as_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_reports(tmp_path / "reports", MEASURED)
    baseline = write_baseline(tmp_path / "b.json", tolerance=0.15)
    assert run(tmp_path, baseline, capsys, "--update")[0] == 0
    written = json.loads(baseline.read_text())
    assert written["tolerance"] == 0.15  # kept
    assert written["ratios"]["core_vs_python"] == 40.0
    assert written["ratios"]["two_consumers_vs_one"] == 1.3
    assert written["ratios"]["four_calls_vs_process"] == 0.9
    assert written["machine"]["cpus"] > 0
    assert run(tmp_path, baseline, capsys)[0] == 0


def test_the_committed_baseline_names_every_ratio() -> None:
    tolerance, ratios = guard.load_baseline(guard.BASELINE)
    assert set(ratios) == {ratio.name for ratio in guard.RATIOS}
    assert 0 < tolerance < 0.5
