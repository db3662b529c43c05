"""The Parquet benchmark (benchmarks/bench_parquet.py, in `make bench`) on a few thousand
events: the lake's writer and pyarrow's encode the same rows with the same settings, both
files read back equal, and the ratio the guard reads is saved."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from tests.benchmark_scripts import load_benchmark


def test_both_writers_encode_the_same_rows_and_the_ratio_is_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    threads = pa.cpu_count(), pa.io_thread_count()
    try:
        figures = load_benchmark("bench_parquet").main(
            ["--events", "3000", "--repeats", "2", "--out", str(tmp_path)]
        )
    finally:
        pa.set_cpu_count(threads[0])  # the benchmark holds pyarrow to one thread
        pa.set_io_thread_count(threads[1])

    # The generator's duplicates and broken records are gone; the rest is in both files.
    assert 2800 < figures.rows < 3000
    assert figures.rust_seconds > 0
    assert figures.pyarrow_seconds > 0
    # Low-cardinality columns keep their dictionary, the event ids (all distinct) do not.
    assert "event_type" in figures.dictionary_columns
    assert "event_id" not in figures.dictionary_columns
    # Same settings, same rows: the files are within a few percent of each other in size.
    assert 0.9 < figures.rust_bytes / figures.pyarrow_bytes < 1.1
    saved = json.loads((tmp_path / "bench_parquet.json").read_text())
    assert saved["parquet_vs_pyarrow"] == pytest.approx(
        figures.pyarrow_seconds / figures.rust_seconds
    )
    assert saved["machine"]["cpus"] > 0
    out = capsys.readouterr().out
    assert "pyarrow's speed" in out
    assert "bytes/event" in out
