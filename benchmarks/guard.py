"""The guard against regressions: the ratios `make bench` measured, against the ones the
project has reached (``benchmarks/baseline.json``).

Only ratios are compared, each measured in one run on one machine against a baseline run in
the same process on the same data (the core against polars, routed requests against whole
ones, ...), never absolute times: those move by a factor of two between machines and runs
here. A ratio more than the baseline's tolerance below its baseline fails the check (exit 1),
so a slowdown shows in the change that made it; a benchmark that did not run is said, and
fails too (a guard that passes on nothing guards nothing).

    python benchmarks/guard.py            # after make bench's benchmarks (make bench runs it)
    python benchmarks/guard.py --update   # the figures just measured become the baseline
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import machine, reports_dir

BASELINE = Path(__file__).with_name("baseline.json")


class GuardError(Exception):
    """The figures or the baseline cannot be read: said, never a traceback."""


@dataclass(frozen=True)
class Ratio:
    name: str
    benchmark: str  # reports/bench_<benchmark>.json
    meaning: str
    read: Callable[[dict[str, Any]], float]


def _step(figures: dict[str, Any], step: str) -> float:
    for row in figures["steps"]:
        if row["step"] == step:
            return float(row["speedup"])
    raise KeyError(step)


def _peer(figures: dict[str, Any], prefix: str) -> float:
    for name, peer in figures["peers"].items():
        if name.startswith(prefix):
            return float(peer["rust_speedup"])
    raise KeyError(prefix)


def _scaleout(figures: dict[str, Any], consumers: int) -> float:
    for run in figures["runs"]:
        if run["consumers"] == consumers:
            return float(run["ratio_vs_one"])
    raise KeyError(f"{consumers} consumers")


# Every ratio is "higher is better".
RATIOS = (
    Ratio(
        "core_vs_python",
        "processing",
        "the core's whole path (bytes → Arrow) against the Python reference",
        lambda f: _step(f, "Whole path, bytes → Arrow"),
    ),
    Ratio(
        "core_vs_polars",
        "processing",
        "the core's whole path against polars' read_ndjson, clean file, one thread each",
        lambda f: _peer(f, "polars"),
    ),
    Ratio(
        "core_vs_duckdb",
        "processing",
        "the core's whole path against DuckDB's read_json, clean file, one thread each",
        lambda f: _peer(f, "DuckDB"),
    ),
    Ratio(
        "four_calls_vs_process",
        "processing",
        "process() against the seed's four calls to the same Arrow rows (1: as fast)",
        lambda f: float(f["four_calls_vs_process"]["ratio"]),
    ),
    Ratio(
        "parquet_vs_pyarrow",
        "parquet",
        "the lake's Parquet encoding (write_iceberg) against pyarrow's write_table, same rows "
        "and settings, one thread each",
        lambda f: float(f["parquet_vs_pyarrow"]),
    ),
    Ratio(
        "stream_vs_file",
        "consumer",
        "stream → lake (the consumer) against file → lake (eventlake process), same events",
        lambda f: float(f["stream_vs_file"]),
    ),
    Ratio(
        "routed_vs_whole",
        "routing",
        "the API's ingest routed (a record per shard) against whole requests",
        lambda f: float(f["routed_vs_whole"]),
    ),
    Ratio(
        "consumer_memory_bounded",
        "memory",
        "the consumer's peak RSS on a stream over its peak on one 4x longer (1: bounded)",
        lambda f: float(f["short_vs_long_peak"]),
    ),
    Ratio(
        "e2e_landed_vs_accepted",
        "e2e",
        "end to end under load: events/s landed in the table over events/s the API accepted",
        lambda f: float(f["landed_vs_accepted"]),
    ),
    Ratio(
        "api_vs_bare_uvicorn",
        "api",
        "the API's requests/s against a bare ASGI app on uvicorn reading the same bodies",
        lambda f: float(f["api_vs_bare"]),
    ),
    Ratio(
        "two_consumers_vs_one",
        "scaleout",
        "events/s landed by 2 consumers sharing a stream against 1",
        lambda f: _scaleout(f, 2),
    ),
)


def measure(reports: Path) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Each ratio from the figures in ``reports`` (None: its benchmark did not run), and the
    machine the figures came from."""
    found: dict[str, float | None] = {}
    machines: dict[str, Any] = {}
    for ratio in RATIOS:
        path = reports / f"bench_{ratio.benchmark}.json"
        if not path.exists():
            found[ratio.name] = None
            continue
        try:
            figures = json.loads(path.read_text())
            found[ratio.name] = ratio.read(figures)
        except (ValueError, KeyError, TypeError) as error:
            raise GuardError(f"{path} does not hold {ratio.name} ({error!r})") from error
        machines[ratio.benchmark] = figures.get("machine")
    return found, machines


def load_baseline(path: Path) -> tuple[float, dict[str, float]]:
    """The tolerance (a fraction) and the baseline ratios."""
    try:
        baseline = json.loads(path.read_text())
        tolerance = float(baseline["tolerance"])
        ratios = {str(k): float(v) for k, v in baseline["ratios"].items()}
    except FileNotFoundError as error:
        raise GuardError(f"no baseline at {path} (python benchmarks/guard.py --update)") from error
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise GuardError(f"{path} is not a baseline: {error!r}") from error
    if not 0 <= tolerance < 1:
        raise GuardError(f"{path}: tolerance must be a fraction from 0 to 1, not {tolerance}")
    unknown = set(ratios) - {r.name for r in RATIOS}
    if unknown:
        raise GuardError(f"{path} names ratios no benchmark measures: {', '.join(sorted(unknown))}")
    return tolerance, ratios


def check(
    measured: dict[str, float | None], tolerance: float, baseline: dict[str, float]
) -> list[tuple[Ratio, float | None, float | None, str]]:
    """Each ratio with its baseline and verdict: ok, regressed, not measured, or new."""
    rows = []
    for ratio in RATIOS:
        now, base = measured.get(ratio.name), baseline.get(ratio.name)
        if now is None:
            verdict = "not measured"
        elif base is None:
            verdict = "new (no baseline)"
        elif now < base * (1 - tolerance):
            verdict = "regressed"
        else:
            verdict = "ok"
        rows.append((ratio, base, now, verdict))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=None, help="default: HOME/reports")
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument(
        "--update", action="store_true", help="write the ratios just measured as the baseline"
    )
    args = parser.parse_args(argv)
    console = Console(soft_wrap=True)  # a message in a CI log stays one line
    try:
        measured, machines = measure(args.reports or reports_dir())
        if args.update:
            return _update(console, args.baseline, measured, machines)
        tolerance, baseline = load_baseline(args.baseline)
    except GuardError as error:
        console.print(f"[red]guard:[/] {error}")
        return 2
    rows = check(measured, tolerance, baseline)
    table = Table(title=f"Ratios against {args.baseline.name} (tolerance {tolerance:.0%})")
    for column in ("ratio", "baseline", "now", "floor", "verdict", "what it compares"):
        numeric = column in ("baseline", "now", "floor")
        table.add_column(column, justify="right" if numeric else "left")
    for ratio, base, now, verdict in rows:
        colour = {"ok": "green", "regressed": "red", "not measured": "red"}.get(verdict, "yellow")
        table.add_row(
            ratio.name,
            "-" if base is None else f"{base:.2f}",
            "-" if now is None else f"{now:.2f}",
            "-" if base is None else f"{base * (1 - tolerance):.2f}",
            f"[{colour}]{verdict}[/]",
            ratio.meaning,
        )
    console.print(table)
    failed = [r.name for r, _, _, verdict in rows if verdict in ("regressed", "not measured")]
    if failed:
        console.print(f"[red]guard failed:[/] {', '.join(failed)}")
        return 1
    console.print("[green]guard passed[/]: every ratio at or above its floor")
    return 0


def _update(
    console: Console, path: Path, measured: dict[str, float | None], machines: dict[str, Any]
) -> int:
    missing = [name for name, value in measured.items() if value is None]
    if missing:
        raise GuardError(f"cannot update: not measured: {', '.join(missing)} (run make bench)")
    tolerance = load_baseline(path)[0] if path.exists() else 0.2
    baseline = {
        "tolerance": tolerance,
        "machine": next(iter(machines.values()), None) or machine(),
        "ratios": {name: round(value, 3) for name, value in measured.items() if value is not None},
    }
    path.write_text(json.dumps(baseline, indent=2) + "\n")
    console.print(f"baseline written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
