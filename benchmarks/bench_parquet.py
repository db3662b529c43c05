"""The lake's Parquet encoding (``write_iceberg``) against pyarrow's writer, same rows and settings.

One process, one batch: N generated events through the Rust core (``process``), the rows the
lake commits. The same Arrow batch is encoded as one Parquet file in memory twice per round, by
``data_processor_rs.write_iceberg`` (the lake's writer, one encode thread, unpartitioned) and by
``pyarrow.parquet.write_table`` (Arrow C++, ``pa.set_cpu_count(1)`` and one I/O thread) with
our writer's settings mirrored: zstd at the lake's level, the same row-group size, dictionary
pages on exactly the columns our writer gave one (read back from its file), statistics on,
1 MiB data pages of version 1, 1 MiB dictionary pages, no Arrow schema in the file, the Iceberg
field ids. Both files must hold the same row groups and read back equal. The rounds alternate
which writer goes first; each writer's figure is its best round, in CPU seconds of the process
(``time.process_time``: every thread counted), with the wall seconds beside them. CPU time,
because on a shared machine (the 2-core VM with builds beside) a run's wall time is mostly
how long it waited for a core, and the two writers wait unequally. The ratio is pyarrow's CPU
seconds over ours (higher is better); figures go to
``$EVENTLAKE_HOME/reports/bench_parquet.json``.

    python benchmarks/bench_parquet.py --events 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import data_processor_rs as rs
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

# The figures' files and the benchmark's sample (benchmarks/), however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as bench_figures
from bench_processing import sample_file

from eventlake.config import get_settings
from eventlake.contracts import ContractSpec, load_contract
from eventlake.lake.schema import table_spec_from_contract

console = Console()

# The writer's row-group size (processor-core's DEFAULT_MAX_ROW_GROUP_ROWS); checked below
# against the row groups both files hold.
ROW_GROUP_ROWS = 1_048_576
PAGE_BYTES = 1024 * 1024  # the data and dictionary page limits, arrow-rs' defaults
TARGET_RATIO = 1.5


@dataclass
class Figures:
    events: int
    rows: int
    zstd_level: int
    rust_seconds: float  # CPU
    pyarrow_seconds: float
    rust_wall_seconds: float
    pyarrow_wall_seconds: float
    rust_bytes: int
    pyarrow_bytes: int
    dictionary_columns: list[str]

    @property
    def ratio(self) -> float:
        return self.pyarrow_seconds / self.rust_seconds


def time_into(runs: list[tuple[float, float]], run: Callable[[], Any]) -> Any:
    """Time ``run`` once (garbage collected first, not during), appending its (CPU, wall)
    seconds to ``runs``."""
    gc.collect()
    gc.disable()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        result = run()
        runs.append((time.process_time() - cpu, time.perf_counter() - wall))
    finally:
        gc.enable()
    return result


def with_field_ids(schema: pa.Schema, ids: dict[str, int]) -> pa.Schema:
    """``schema`` with each column's Iceberg field id, which pyarrow writes as the Parquet
    schema's ``field_id`` (as our writer does from the ids it is given)."""
    return pa.schema(
        [f.with_metadata({b"PARQUET:field_id": str(ids[f.name]).encode()}) for f in schema]
    )


def measure(events: int, repeats: int, seed: int = 42) -> Figures:
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    contract = load_contract("events")
    data = sample_file(events, seed, clean=False).read_bytes()
    batch = rs.process(data, contract, job_id="bench").to_arrow()
    spec = table_spec_from_contract(ContractSpec.from_rust(contract), batch.schema)
    ids = {f.name: f.field_id for f in spec.iceberg_schema().fields}
    level = get_settings().lake.zstd_level
    table = pa.Table.from_batches([batch]).cast(with_field_ids(batch.schema, ids))

    # Each writer's file as it hands it over (bytes; an Arrow buffer), copied no further.
    def ours() -> bytes:
        (file,) = rs.write_iceberg(
            batch, "/bench", ids, file_prefix="bench", zstd_level=level, threads=1
        )
        return file.data

    rust_file = ours()
    ours_meta = pq.read_metadata(pa.BufferReader(rust_file))
    first = ours_meta.row_group(0)
    dictionary_columns = [
        first.column(i).path_in_schema
        for i in range(first.num_columns)
        if first.column(i).has_dictionary_page
    ]

    def theirs() -> pa.Buffer:
        sink = pa.BufferOutputStream()
        pq.write_table(
            table,
            sink,
            row_group_size=ROW_GROUP_ROWS,
            compression="zstd",
            compression_level=level,
            use_dictionary=dictionary_columns,
            write_statistics=True,
            data_page_size=PAGE_BYTES,
            dictionary_pagesize_limit=PAGE_BYTES,
            data_page_version="1.0",
            store_schema=False,
        )
        return sink.getvalue()

    pyarrow_file = theirs()
    check_same_output(rust_file, pyarrow_file, batch.num_rows)

    rust_runs: list[tuple[float, float]] = []
    pyarrow_runs: list[tuple[float, float]] = []
    for round_number in range(repeats):
        # Alternating order: neither writer always runs on a cache the other warmed.
        order = (ours, theirs) if round_number % 2 == 0 else (theirs, ours)
        for writer in order:
            time_into(rust_runs if writer is ours else pyarrow_runs, writer)
    return Figures(
        events=events,
        rows=batch.num_rows,
        zstd_level=level,
        rust_seconds=min(cpu for cpu, _ in rust_runs),
        pyarrow_seconds=min(cpu for cpu, _ in pyarrow_runs),
        rust_wall_seconds=min(wall for _, wall in rust_runs),
        pyarrow_wall_seconds=min(wall for _, wall in pyarrow_runs),
        rust_bytes=len(rust_file),
        pyarrow_bytes=len(pyarrow_file),
        dictionary_columns=dictionary_columns,
    )


def check_same_output(rust_file: bytes, pyarrow_file: pa.Buffer, rows: int) -> None:
    """Both files hold the same row groups and read back as the same rows."""
    ours, theirs = (pq.read_metadata(pa.BufferReader(f)) for f in (rust_file, pyarrow_file))
    groups = [[m.row_group(i).num_rows for i in range(m.num_row_groups)] for m in (ours, theirs)]
    assert groups[0] == groups[1], f"row groups differ: ours {groups[0]}, pyarrow {groups[1]}"
    assert ours.num_rows == theirs.num_rows == rows, "a writer lost rows"
    tables = [pq.read_table(pa.BufferReader(f)) for f in (rust_file, pyarrow_file)]
    assert tables[0].equals(tables[1]), "the two files read back differently"


def show(figures: Figures) -> None:
    table = Table(
        title=f"Parquet encoding of {figures.rows:,} rows ({figures.events:,} events), one "
        f"thread each, zstd level {figures.zstd_level}, best of the rounds"
    )
    for column in ("writer", "CPU s", "wall s", "bytes/event", "file MB"):
        table.add_column(column, justify="left" if column == "writer" else "right")
    for name, cpu, wall, size in (
        (
            "eventlake write_iceberg (arrow-rs)",
            figures.rust_seconds,
            figures.rust_wall_seconds,
            figures.rust_bytes,
        ),
        (
            "pyarrow.parquet.write_table (Arrow C++)",
            figures.pyarrow_seconds,
            figures.pyarrow_wall_seconds,
            figures.pyarrow_bytes,
        ),
    ):
        per_row = f"{size / figures.rows:.2f}"
        table.add_row(name, f"{cpu:.3f}", f"{wall:.3f}", per_row, f"{size / 1e6:.1f}")
    console.print(table)
    met = figures.ratio >= TARGET_RATIO
    console.print(
        f"ours is {figures.ratio:.2f}x pyarrow's speed in CPU time "
        f"({figures.pyarrow_wall_seconds / figures.rust_wall_seconds:.2f}x in wall time; "
        f"target {TARGET_RATIO}x): " + ("[green]met[/]" if met else "[red]not met[/]")
    )
    console.print(f"dictionary columns (both): {', '.join(figures.dictionary_columns)}")


def main(argv: list[str] | None = None) -> Figures:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5, help="rounds; each writer's best")
    parser.add_argument("--out", type=Path, default=None, help="default: HOME/reports")
    args = parser.parse_args(argv)
    figures = measure(args.events, args.repeats)
    show(figures)
    result = asdict(figures) | {
        "parquet_vs_pyarrow": figures.ratio,
        "rust_bytes_per_row": figures.rust_bytes / figures.rows,
        "pyarrow_bytes_per_row": figures.pyarrow_bytes / figures.rows,
    }
    out = bench_figures.save("parquet", result, args.out)
    console.print(f"figures: {out}")
    return figures


if __name__ == "__main__":
    main()
