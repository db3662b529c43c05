"""`make soak`: the API and a consumer under a steady load for a long time, with the lake's
maintenance running as it would in production, watched for what only time shows: memory or
open files that grow, latencies that drift, errors that start after an hour.

`eventlake serve` and `eventlake consume` run as users run them, in a throwaway EVENTLAKE_HOME
on the embedded stream. Clients send 500-event JSON bodies at ``--events-per-second`` (a steady
rate, not as fast as possible) for ``--minutes``; every ``--maintenance-seconds``, `eventlake
lake compact events` and `eventlake lake expire events` run as their own processes. Every
``--sample-seconds``: each process's resident memory and open file descriptors, the interval's
p50/p99 latency, accepted and landed events, failed requests. At the end, once the consumer has
caught up, the lake is reconciled: every accepted event in the table exactly once.

The verdict compares the last third of the run with the second (the first is warm-up:
caches, windows and the catalog filling): memory may grow by at most ``--max-growth`` (a
fraction), open files by at most 16, p99 by at most 2x; no request may fail; the lake must
reconcile. Figures go to HOME/reports/soak.json with a plot.

    python benchmarks/soak.py --minutes 30
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

# The figures' files and the HTTP load (benchmarks/), however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as bench_figures
from http_load import (
    BIN,
    Load,
    Services,
    client,
    landed,
    open_files,
    rss_mb,
    services,
    templates,
)

from eventlake.config import Settings
from eventlake.lake import Lake
from eventlake.pipeline.supervisor import ServiceError
from eventlake.state import open_state

console = Console()
MAX_MORE_OPEN_FILES = 16  # sockets and files come and go: a leak grows without bound


@dataclass
class Sample:
    seconds: float
    accepted: int
    landed: int
    failures: int
    p50_ms: float | None
    p99_ms: float | None
    api_rss_mb: float
    consumer_rss_mb: float
    api_open_files: int
    consumer_open_files: int


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--events-per-second", type=float, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--per-request", type=int, default=500)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--maintenance-seconds", type=float, default=300.0)
    parser.add_argument("--max-growth", type=float, default=0.25, help="memory, last third")
    parser.add_argument("--out", type=Path, default=None, help="default: HOME/reports")
    args = parser.parse_args(argv)

    bodies = templates(args.per_request)
    with (
        tempfile.TemporaryDirectory(prefix="eventlake-soak-") as scratch,
        services(Path(scratch)) as running,
    ):
        try:
            figures = soak(args, running, bodies)
        except ServiceError as error:
            raise SystemExit(str(error)) from None
    verdict(figures)
    out = bench_figures.save("soak", figures, args.out)
    plot(figures, out.with_suffix(".png"))
    console.print(f"figures: {out}\nplot:    {out.with_suffix('.png')}")
    return figures


def soak(args: argparse.Namespace, running: Services, bodies: list[bytes]) -> dict[str, object]:
    port, key, env = running.port, running.key, running.env
    api, consumer = running.api, running.consumer
    settings = Settings(home=running.home)
    load = Load()
    stop = threading.Event()
    per_thread = args.events_per_second / args.per_request / args.connections
    threads = [
        threading.Thread(
            target=client, args=(port, key, bodies, n, load, stop, per_thread), daemon=True
        )
        for n in range(args.connections)
    ]
    seconds = args.minutes * 60
    samples: list[Sample] = []
    maintenance: list[dict[str, object]] = []
    started = time.perf_counter()

    def maintenance_rounds() -> None:
        # Beside the sampling, as a scheduled task runs beside the services: a slow compaction
        # must not stop the watching.
        while not stop.wait(args.maintenance_seconds):
            maintenance.append(maintain(env, started))

    maintainer = threading.Thread(target=maintenance_rounds, daemon=True)
    maintainer.start()
    for thread in threads:
        thread.start()
    columns = (
        TextColumn("soak"),
        BarColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[now]}"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("soak", total=seconds, now="")
        while (elapsed := time.perf_counter() - started) < seconds:
            stop.wait(min(args.sample_seconds, seconds - elapsed))
            for process, name in ((api, "the API"), (consumer, "the consumer")):
                if process.poll() is not None:
                    raise ServiceError(f"{name} exited during the soak ({process.returncode})")
            samples.append(sample(load, api.pid, consumer.pid, settings, started))
            now = samples[-1]
            progress.update(
                task,
                completed=time.perf_counter() - started,
                now=f"{now.accepted:,} accepted, {now.landed:,} landed, "
                f"p99 {now.p99_ms or 0:.0f} ms",
            )
    stop.set()
    for thread in [*threads, maintainer]:
        thread.join(timeout=600)
    accepted = load.accepted
    deadline = time.perf_counter() + 300
    while landed(settings.state_database_url) < accepted and time.perf_counter() < deadline:
        time.sleep(0.5)
    lake = Lake(settings)
    ids = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    distinct = len(set(ids.to_pylist()))
    state = open_state(settings.state_database_url)
    try:
        dead_lettered = int(state.metrics()["events_dead_lettered"])
    finally:
        state.close()
    return {
        "minutes": args.minutes,
        "events_per_second_target": args.events_per_second,
        "connections": args.connections,
        "requests": load.requests,
        "failures": load.failures,
        "failure_statuses": {str(k): v for k, v in load.statuses.items()},
        "accepted": accepted,
        "rows_in_table": len(ids),
        "distinct_in_table": distinct,
        "dead_lettered": dead_lettered,
        "reconciled": len(ids) == distinct == accepted,
        "maintenance": maintenance,
        "max_growth": args.max_growth,
        "samples": [asdict(s) for s in samples],
    }


def sample(
    load: Load, api_pid: int, consumer_pid: int, settings: Settings, started: float
) -> Sample:
    latencies = sorted(load.take_latencies())
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else None
    with load.lock:
        accepted, failures = load.accepted, load.failures
    return Sample(
        seconds=time.perf_counter() - started,
        accepted=accepted,
        landed=landed(settings.state_database_url),
        failures=failures,
        p50_ms=quantiles[49] if quantiles else None,
        p99_ms=quantiles[98] if quantiles else None,
        api_rss_mb=rss_mb(api_pid),
        consumer_rss_mb=rss_mb(consumer_pid),
        api_open_files=open_files(api_pid),
        consumer_open_files=open_files(consumer_pid),
    )


def maintain(env: dict[str, str], started: float) -> dict[str, object]:
    """The lake's maintenance, as the DAG or an operator runs it: compact, then expire."""
    done: dict[str, object] = {"seconds": time.perf_counter() - started}
    for step in (
        ["compact", "events", "--small-file-mb", "8"],
        ["expire", "events", "--older-than", "1m", "--retain-last", "3"],
    ):
        run = subprocess.run(
            [str(BIN / "eventlake"), "lake", *step],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        done[step[0]] = run.returncode
    return done


def thirds(figures: dict[str, object]) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    samples = figures["samples"]
    assert isinstance(samples, list)
    third = max(1, len(samples) // 3)
    return samples[third : 2 * third], samples[2 * third :]


def checks(figures: dict[str, object]) -> list[tuple[str, bool, str]]:
    """(what, held, the figures) for each of the soak's promises."""
    middle, last = thirds(figures)
    growth = float(figures["max_growth"])  # type: ignore[arg-type]
    out = []
    for process in ("api", "consumer"):
        before = max(s[f"{process}_rss_mb"] for s in middle) if middle else 0.0
        after = max(s[f"{process}_rss_mb"] for s in last) if last else 0.0
        out.append(
            (
                f"{process} memory flat",
                after <= before * (1 + growth),
                f"peak {before:,.0f} MB then {after:,.0f} MB",
            )
        )
        files_before = max(s[f"{process}_open_files"] for s in middle) if middle else 0
        files_after = max(s[f"{process}_open_files"] for s in last) if last else 0
        out.append(
            (
                f"{process} open files flat",
                files_after <= files_before + MAX_MORE_OPEN_FILES,
                f"{files_before} then {files_after}",
            )
        )
    p99_before = [s["p99_ms"] for s in middle if s["p99_ms"] is not None]
    p99_after = [s["p99_ms"] for s in last if s["p99_ms"] is not None]
    if p99_before and p99_after:
        b, a = statistics.median(p99_before), statistics.median(p99_after)
        out.append(("p99 stable", a <= 2 * b, f"median p99 {b:.0f} ms then {a:.0f} ms"))
    out.append(
        (
            "no failed request",
            figures["failures"] == 0,
            f"{figures['failures']} failed of {figures['requests']:,} "
            f"{figures['failure_statuses']}",
        )
    )
    out.append(
        (
            "the lake reconciles",
            bool(figures["reconciled"]),
            f"{figures['accepted']:,} accepted, {figures['rows_in_table']:,} rows, "
            f"{figures['distinct_in_table']:,} distinct",
        )
    )
    maintenance = figures["maintenance"]
    assert isinstance(maintenance, list)
    out.append(
        (
            "maintenance ran",
            bool(maintenance) and all(m["compact"] == m["expire"] == 0 for m in maintenance),
            f"{len(maintenance)} rounds of compact + expire",
        )
    )
    return out


def verdict(figures: dict[str, object]) -> None:
    results = checks(figures)
    figures["checks"] = [{"check": c, "held": held, "figures": f} for c, held, f in results]
    figures["passed"] = all(held for _, held, _ in results)
    rate = float(figures["events_per_second_target"])  # type: ignore[arg-type]
    table = Table(title=f"Soak: {figures['minutes']} min at {rate:,.0f} events/s")
    for column in ("check", "held", "figures (second third, then last third)"):
        table.add_column(column)
    for check, held, detail in results:
        table.add_row(check, "[green]yes[/]" if held else "[red]no[/]", detail)
    console.print(table)


def plot(figures: dict[str, object], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = figures["samples"]
    assert isinstance(samples, list)
    minutes = [s["seconds"] / 60 for s in samples]
    fig, (memory, files, latency, events) = plt.subplots(4, 1, figsize=(8, 9), sharex=True)
    for process in ("api", "consumer"):
        memory.plot(minutes, [s[f"{process}_rss_mb"] for s in samples], label=process)
        files.plot(minutes, [s[f"{process}_open_files"] for s in samples], label=process)
    memory.set_ylabel("RSS (MB)")
    files.set_ylabel("open files")
    latency.plot(minutes, [s["p50_ms"] for s in samples], label="p50")
    latency.plot(minutes, [s["p99_ms"] for s in samples], label="p99")
    latency.set_ylabel("latency (ms)")
    events.plot(minutes, [s["accepted"] for s in samples], label="accepted")
    events.plot(minutes, [s["landed"] for s in samples], label="landed")
    events.set_ylabel("events")
    events.set_xlabel("minutes")
    maintenance = figures["maintenance"]
    assert isinstance(maintenance, list)
    for axis in (memory, files, latency, events):
        for m in maintenance:
            axis.axvline(float(m["seconds"]) / 60, color="grey", linestyle=":", linewidth=0.8)
        axis.legend(loc="upper left")
        axis.grid(alpha=0.3)
    fig.suptitle("Soak: memory, open files, latency and events (dotted: compact + expire)")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
