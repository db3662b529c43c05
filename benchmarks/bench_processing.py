"""``make bench``: the Rust core against the Python reference and the strongest peers.

One process, one machine, one file: N generated events (NDJSON, ~235 bytes each). Each step
of the Python reference (stdlib json, plain dicts; the differential-test oracle) is timed once,
the Rust core's steps best of ``--repeats``; polars' ``read_ndjson`` and DuckDB's ``read_json``
read the same file, each held to one thread as the Rust core uses one. The Iceberg rows go from
the same bytes to a committed table in a fresh SQL catalog: the Rust path (``process`` +
``write_iceberg`` + the exactly-once commit) against the Python path (the reference + pyiceberg's
own ``append``, which writes through Arrow's C++ Parquet writer). Figures go to a table, to
``$EVENTLAKE_HOME/reports/bench_processing.json`` and to a plot beside it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sized
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

# Peers run on one thread, like the Rust core: set before polars is imported.
os.environ["POLARS_MAX_THREADS"] = "1"

import data_processor_rs as rs
import duckdb
import polars as pl
import pyarrow as pa
from rich.console import Console
from rich.table import Table

# The figures' files (benchmarks/figures.py), however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as bench_figures

from eventlake.config import LakeSettings, Settings, get_settings
from eventlake.contracts import ContractSpec, load_contract
from eventlake.lake import Lake, SequenceRange
from eventlake.processing import reference as ref
from eventlake.sample_data import SampleConfig, write_sample

T = TypeVar("T")
B = TypeVar("B", bound=Sized)
console = Console()

# The seed's table (speedups of the Rust core over Python) and this project's targets.
SEED_SPEEDUPS = {"parse": 21.0, "validate": 25.0, "transform": 17.0}
TARGET_WHOLE_SPEEDUP = 25.0
TARGET_WHOLE_SECONDS_PER_MILLION = 1.0
TARGET_OVER_POLARS = 5.0
TARGET_OVER_DUCKDB = 1.0
TARGET_ICEBERG_SECONDS_PER_MILLION = 2.5
TARGET_FOUR_CALLS_VS_PROCESS = 1 / 1.2  # issue 17: the four calls within 1.2x of process()


@dataclass
class Row:
    step: str
    python_s: float | None
    rust_s: float
    target_speedup: float | None

    @property
    def speedup(self) -> float | None:
        return self.python_s / self.rust_s if self.python_s else None


def timed(run: Callable[[], T], repeats: int = 1) -> tuple[float, T]:
    """Best wall time of ``repeats`` runs (garbage collected first, not during)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            began = time.perf_counter()
            result = run()
            best = min(best, time.perf_counter() - began)
        finally:
            gc.enable()
    assert result is not None
    return best, result


def computed(batch: B) -> B:
    """The batch, computed: asking its length computes it (the steps defer their work)."""
    len(batch)
    return batch


@dataclass
class FourCalls:
    """The seed's four calls (what users copy from the README) against ``process()``, the
    same bytes to the same endpoint (an Arrow record batch, asserted equal), best of N each,
    alternating so that both see the same machine."""

    four_calls_s: float
    process_s: float

    @property
    def ratio(self) -> float:
        """process() time over the four calls' time: 1 is as fast, higher is better."""
        return self.process_s / self.four_calls_s


def four_calls_against_process(data: bytes, contract: rs.Contract, repeats: int) -> FourCalls:
    ingested_at_us = 1_700_000_000_000_000  # one ingest time, so the two tables can be equal

    def four_calls() -> pa.RecordBatch:
        parsed = rs.parse_events(data)
        validated = rs.validate_schema(parsed, contract)
        transformed = rs.transform_batch(validated, job_id="bench", ingested_at_us=ingested_at_us)
        return rs.deduplicate(transformed).to_arrow()

    def fused() -> pa.RecordBatch:
        return rs.process(data, contract, job_id="bench", ingested_at_us=ingested_at_us).to_arrow()

    best = {four_calls: float("inf"), fused: float("inf")}
    tables = {}
    for _ in range(repeats):
        for run in best:
            seconds, tables[run] = timed(run)
            best[run] = min(best[run], seconds)
    assert tables[four_calls].equals(tables[fused]), "the four calls and process() differ"
    return FourCalls(four_calls_s=best[four_calls], process_s=best[fused])


def sample_file(events: int, seed: int, *, clean: bool) -> Path:
    """Generated events, reused while the manifest says they are the same. The messy sample has
    the generator's 2% duplicates and 1% broken records; the clean one has neither, so that
    polars and DuckDB (which cannot skip a bad record) can read it."""
    config = SampleConfig(events=events, seed=seed)
    if clean:
        config = SampleConfig(events=events, seed=seed, duplicate_share=0.0, invalid_share=0.0)
    name = f"events-{events}-seed{seed}-{'clean' if clean else 'messy'}"
    directory = get_settings().home / "bench" / name
    manifest = directory / "manifest.json"
    if not manifest.exists() or json.loads(manifest.read_text())["config"] != config.to_dict():
        console.print(f"generating {events:,} events into {directory} ...")
        directory.mkdir(parents=True, exist_ok=True)
        write_sample(directory, config, ("ndjson",))
    return directory / "events.ndjson"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each Rust/peer timing")
    args = parser.parse_args()

    path = sample_file(args.events, args.seed, clean=False)
    clean_path = sample_file(args.events, args.seed, clean=True)
    data = path.read_bytes()
    contract = load_contract("events")
    spec = ContractSpec.from_rust(contract)
    console.print(
        f"{args.events:,} events, {len(data) / 1e6:,.1f} MB ({len(data) / args.events:.0f} B/event)"
        f" from {path}"
    )

    # Rust core, step by step (batches stay in Rust; Arrow leaves at the end). A batch is
    # computed when first asked for: each step's time includes asking (len), so that it is
    # the step's own work, from the batch before it computed.
    rust_parse, parsed = timed(lambda: computed(rs.parse_events(data)), args.repeats)
    rust_validate, validated = timed(
        lambda p=parsed: computed(rs.validate_schema(p, contract)), args.repeats
    )
    rust_transform, transformed = timed(
        lambda v=validated: computed(rs.transform_batch(v, job_id="bench")), args.repeats
    )
    rust_dedup, deduped = timed(lambda t=transformed: computed(rs.deduplicate(t)), args.repeats)
    rust_whole, whole = timed(
        lambda: rs.process(data, contract, job_id="bench").to_arrow(), args.repeats
    )
    del parsed, validated, transformed
    four_calls = four_calls_against_process(data, contract, args.repeats)

    # Peers, one thread each, against the Rust whole path on the same clean file.
    clean = clean_path.read_bytes()
    rust_clean, _ = timed(lambda c=clean: rs.process(c, contract).to_arrow(), args.repeats)
    polars_s, frame = timed(lambda: pl.read_ndjson(clean_path), args.repeats)
    con = duckdb.connect()
    con.execute("SET threads = 1")
    query = f"SELECT * FROM read_json('{clean_path}', format = 'newline_delimited')"  # noqa: S608 — the benchmark's own file path
    duck_s, duck = timed(lambda: con.sql(query).to_arrow_table(), args.repeats)
    peers_rows = (frame.height, duck.num_rows)
    del frame, duck, clean

    # The Python reference, once (it takes a while).
    console.print("timing the Python reference (one run of each step) ...")
    py_parse, py_parsed = timed(lambda: ref.parse_events(data))
    py_validate, py_validated = timed(lambda p=py_parsed: ref.validate_schema(p, spec))
    del py_parsed
    py_transform, py_transformed = timed(
        lambda v=py_validated: ref.transform_batch(v, job_id="bench")
    )
    del py_validated
    py_dedup, py_deduped = timed(lambda t=py_transformed: ref.deduplicate(t))
    del py_transformed
    py_to_arrow, py_table = timed(lambda d=py_deduped: ref.to_arrow(d))
    assert py_table.num_rows == whole.num_rows == deduped.to_arrow().num_rows, "outputs differ"
    del py_deduped
    py_whole = py_parse + py_validate + py_transform + py_dedup + py_to_arrow

    # Bytes → committed Iceberg table. Each run commits into a fresh lake.
    console.print("timing Iceberg commits ...")
    rust_iceberg, rust_landed = min(rust_to_iceberg(data, contract) for _ in range(args.repeats))
    cpus = os.cpu_count() or 1
    rust_iceberg_all_cores, _ = min(
        rust_to_iceberg(data, contract, threads=cpus) for _ in range(args.repeats)
    )
    pyiceberg_append, _ = pyiceberg_to_iceberg(whole, contract)
    py_append, py_landed = pyiceberg_to_iceberg(py_table, contract)
    assert rust_landed == py_landed == whole.num_rows, "the lake holds a different row count"
    del py_table
    rust_encode_commit = rust_iceberg - rust_whole

    rows = [
        Row("JSON parsing", py_parse, rust_parse, SEED_SPEEDUPS["parse"]),
        Row("Schema validation", py_validate, rust_validate, SEED_SPEEDUPS["validate"]),
        Row("Data transformation", py_transform, rust_transform, SEED_SPEEDUPS["transform"]),
        Row("Deduplication", py_dedup, rust_dedup, None),
        Row("Whole path, bytes → Arrow", py_whole, rust_whole, TARGET_WHOLE_SPEEDUP),
        Row("Arrow → committed Iceberg", pyiceberg_append, max(rust_encode_commit, 1e-9), None),
        Row("Bytes → committed Iceberg", py_whole + py_append, rust_iceberg, None),
        Row(f"Bytes → Iceberg, {cpus} threads", py_whole + py_append, rust_iceberg_all_cores, None),
    ]
    peers = {"polars.read_ndjson (1 thread)": polars_s, "DuckDB read_json (1 thread)": duck_s}
    show(rows, peers, rust_whole, rust_clean, args.events, four_calls)
    save(args, data, rows, peers, rust_whole, rust_clean, peers_rows, whole.num_rows, four_calls)


def rust_to_iceberg(data: bytes, contract: rs.Contract, threads: int = 1) -> tuple[float, int]:
    """The production path: the Rust core, then Lake.commit_processed (Rust Parquet encoding,
    pyiceberg manifests, the catalog's atomic commit with the watermark). Creating the empty
    tables is not timed."""
    with fresh_lake(threads) as lake:
        lake.ensure_dataset(contract)
        lake.ensure_dead_letter()
        gc.collect()
        began = time.perf_counter()
        batch = rs.process(data, contract, job_id="bench")
        result = lake.commit_processed(
            batch,
            ranges={"bench/0": SequenceRange(0, 0)},
            job_id="bench",
            source="bench",
            received_at=datetime.now(UTC),
        )
        return time.perf_counter() - began, result.rows.records


def pyiceberg_to_iceberg(
    rows: pa.Table | pa.RecordBatch, contract: rs.Contract
) -> tuple[float, int]:
    """pyiceberg's own write path: ``Table.append`` of an Arrow table (Arrow C++ Parquet)."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_batches([rows])
    table = table.cast(contract.arrow_schema())
    with fresh_lake() as lake:
        iceberg = lake.ensure_dataset(contract)
        gc.collect()
        began = time.perf_counter()
        iceberg.append(table)
        seconds = time.perf_counter() - began
        return seconds, lake.table(contract.name).scan(selected_fields=("event_id",)).count()


class fresh_lake:  # noqa: N801 - used as a context manager, reads like a function
    """A throw-away lake (SQL catalog + local warehouse) in a temporary folder."""

    def __init__(self, encode_threads: int = 1) -> None:
        self.encode_threads = encode_threads

    def __enter__(self) -> Lake:
        self.home = Path(tempfile.mkdtemp(prefix="eventlake-bench-"))
        lake = LakeSettings(encode_threads=self.encode_threads)
        return Lake(Settings(home=self.home, lake=lake))

    def __exit__(self, *_: object) -> None:
        shutil.rmtree(self.home, ignore_errors=True)


def show(
    rows: list[Row],
    peers: dict[str, float],
    rust_whole: float,
    rust_clean: float,
    events: int,
    four_calls: FourCalls,
) -> None:
    table = Table(title=f"Processing {events:,} events: Python reference vs Rust core")
    for column in ("step", "Python", "Rust", "speedup", "target", "met"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for row in rows:
        speedup = row.speedup
        met = "" if row.target_speedup is None or speedup is None else speedup >= row.target_speedup
        table.add_row(
            row.step,
            f"{row.python_s:.2f} s" if row.python_s else "",
            f"{row.rust_s:.3f} s",
            f"{speedup:.1f}x" if speedup else "",
            f"{row.target_speedup:.0f}x" if row.target_speedup else "",
            "" if met == "" else ("[green]yes[/]" if met else "[red]no[/]"),
        )
    console.print(table)

    peer_table = Table(
        title=f"Bytes → Arrow on the clean file: Rust core {rust_clean:.3f} s against the peers"
    )
    for column in ("reader", "time", "Rust is", "target", "met"):
        peer_table.add_column(column, justify="left" if column == "reader" else "right")
    targets = [TARGET_OVER_POLARS, TARGET_OVER_DUCKDB]
    for (name, seconds), target in zip(peers.items(), targets, strict=True):
        ratio = seconds / rust_clean
        peer_table.add_row(
            name,
            f"{seconds:.3f} s",
            f"{ratio:.2f}x faster",
            f">{target:.0f}x" if target > 1 else "faster",
            "[green]yes[/]" if ratio >= target and ratio > 1 else "[red]no[/]",
        )
    console.print(peer_table)
    per_million = rust_whole * 1_000_000 / events
    console.print(
        f"Rust whole path: {per_million:.3f} s per million events "
        f"(target under {TARGET_WHOLE_SECONDS_PER_MILLION:.1f} s): "
        + ("[green]met[/]" if per_million < TARGET_WHOLE_SECONDS_PER_MILLION else "[red]not met[/]")
    )
    four_calls_met = four_calls.ratio >= TARGET_FOUR_CALLS_VS_PROCESS
    console.print(
        f"The seed's four calls (parse_events → validate_schema → transform_batch → deduplicate"
        f" → to_arrow) {four_calls.four_calls_s:.3f} s, process() {four_calls.process_s:.3f} s:"
        f" process/four calls {four_calls.ratio:.2f} (target at least"
        f" {TARGET_FOUR_CALLS_VS_PROCESS:.2f}, within 1.2x): "
        + ("[green]met[/]" if four_calls_met else "[red]not met[/]")
    )
    console.print(
        "Iceberg rows, Python column: pyiceberg's own Table.append (Arrow C++ Parquet writer, "
        "partitions written on pyiceberg's thread pool); Rust: write_iceberg + the exactly-once "
        "commit, dead-letter table included."
    )
    iceberg = rows[-2]  # one core: the target's terms
    per_million = iceberg.rust_s * 1_000_000 / events
    console.print(
        f"Rust path to a committed Iceberg table: {per_million:.3f} s per million events "
        f"(target under {TARGET_ICEBERG_SECONDS_PER_MILLION:.1f} s): "
        + (
            "[green]met[/]"
            if per_million < TARGET_ICEBERG_SECONDS_PER_MILLION
            else "[red]not met[/]"
        )
    )


def save(
    args: argparse.Namespace,
    data: bytes,
    rows: list[Row],
    peers: dict[str, float],
    rust_whole: float,
    rust_clean: float,
    peers_rows: tuple[int, int],
    rust_rows: int,
    four_calls: FourCalls,
) -> None:
    result: dict[str, Any] = {
        "events": args.events,
        "bytes": len(data),
        "repeats": args.repeats,
        "steps": [asdict(row) | {"speedup": row.speedup} for row in rows],
        "rust_whole_clean_file_seconds": rust_clean,
        "peers": {
            name: {"seconds": s, "rust_speedup": s / rust_clean} for name, s in peers.items()
        },
        "rows_out": {"rust": rust_rows, "polars": peers_rows[0], "duckdb": peers_rows[1]},
        "rust_whole_seconds_per_million": rust_whole * 1_000_000 / args.events,
        "four_calls_vs_process": asdict(four_calls) | {"ratio": four_calls.ratio},
        "rust_iceberg_seconds_per_million": rows[-2].rust_s * 1_000_000 / args.events,
        "rust_iceberg_all_cores_seconds_per_million": rows[-1].rust_s * 1_000_000 / args.events,
    }
    out = bench_figures.save("processing", result)
    plot(rows, peers, rust_clean, out.with_suffix(".png"))
    console.print(f"figures: {out}\nplot:    {out.with_suffix('.png')}")


def plot(rows: list[Row], peers: dict[str, float], rust_clean: float, target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (steps_ax, peers_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [row.step for row in rows]
    positions = range(len(rows))
    steps_ax.barh(
        [p + 0.2 for p in positions], [r.python_s or 0 for r in rows], 0.4, label="Python"
    )
    steps_ax.barh([p - 0.2 for p in positions], [r.rust_s for r in rows], 0.4, label="Rust core")
    steps_ax.set_yticks(list(positions), names)
    steps_ax.set_xscale("log")
    steps_ax.set_xlabel("seconds (log scale)")
    steps_ax.invert_yaxis()
    steps_ax.legend()
    for position, row in zip(positions, rows, strict=True):
        if row.speedup:
            steps_ax.text(row.rust_s, position - 0.2, f" {row.speedup:.0f}x", va="center")
    steps_ax.set_title("Python reference vs Rust core")
    labels = ["Rust core (whole path)", *peers]
    peers_ax.barh(
        labels, [rust_clean, *peers.values()], color=["tab:orange", "tab:gray", "tab:gray"]
    )
    peers_ax.set_xlabel("seconds, same clean file, one thread")
    peers_ax.invert_yaxis()
    peers_ax.set_title("Bytes to Arrow against peers")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
