"""End to end, sustained: clients → API → stream → consumer → committed Iceberg table.

The figure no ingest-to-Iceberg system publishes: events per second landed in a committed
table, from HTTP requests, on one machine. `eventlake serve` (one worker) and `eventlake
consume` run as users run them, in a throwaway EVENTLAKE_HOME on the embedded stream, sharing
the machine with each other and with the clients (this process: ``--connections`` threads on
keep-alive connections, each sending 500-event JSON bodies with ids of their own for
``--seconds``). Sampled every second: the events the API accepted and the events the consumer
landed (the job records). After the load stops, the lag is the time until every accepted event
has landed. Also: the API's p50/p99 as the clients saw them, each process's CPU seconds per
million events, and the bytes each wrote per event (/proc). A plot shows both curves.

The guard's ratio is landed over accepted events/s during the load: 1.0 when the consumer keeps
up with the API, lower when a backlog grows.

    python benchmarks/bench_e2e.py --seconds 30 --connections 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

# The figures' files (benchmarks/figures.py) and the HTTP load (benchmarks/http_load.py),
# however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as bench_figures
from http_load import (
    Load,
    Services,
    client,
    cpu_seconds,
    landed,
    services,
    templates,
    written_bytes,
)

console = Console()
BIN = Path(sys.executable).parent
GOAL_EVENTS_PER_SECOND = 200_000
SMOOTH_SECONDS = 5.0  # the plot's rates: over the trailing 5 s


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the load lasts")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--per-request", type=int, default=500)
    parser.add_argument("--catch-up-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=None, help="default: HOME/reports")
    args = parser.parse_args(argv)

    bodies = templates(args.per_request)
    with (
        tempfile.TemporaryDirectory(prefix="eventlake-bench-e2e-") as scratch,
        services(Path(scratch)) as running,
    ):
        figures = run(args, running, bodies)
    report(figures)
    out = bench_figures.save("e2e", figures, args.out)
    plot(figures, out.with_suffix(".png"))
    console.print(f"figures: {out}\nplot:    {out.with_suffix('.png')}")
    return figures


def run(args: argparse.Namespace, running: Services, bodies: list[bytes]) -> dict[str, object]:
    port, key, state_url = running.port, running.key, running.state_url
    api_pid, consumer_pid = running.api.pid, running.consumer.pid
    load = Load()
    stop = threading.Event()
    cpu_before = {"api": cpu_seconds(api_pid), "consumer": cpu_seconds(consumer_pid)}
    io_before = {"api": written_bytes(api_pid), "consumer": written_bytes(consumer_pid)}
    landed_before = landed(state_url)
    threads = [
        threading.Thread(target=client, args=(port, key, bodies, n, load, stop), daemon=True)
        for n in range(args.connections)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    samples: list[tuple[float, int, int]] = []  # (seconds, accepted, landed)
    console.print(
        f"{args.connections} connections, {args.per_request}-event JSON bodies, "
        f"{args.seconds:.0f} s of load; API and consumer on this machine's "
        f"{os.cpu_count()} CPUs"
    )
    while time.perf_counter() - started < args.seconds:
        time.sleep(1.0)
        with load.lock:
            accepted = load.accepted
        samples.append((time.perf_counter() - started, accepted, landed(state_url) - landed_before))
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    load_seconds = time.perf_counter() - started
    accepted_total = load.accepted
    landed_at_stop = landed(state_url) - landed_before
    # The lag: until every accepted event has landed.
    deadline = time.perf_counter() + args.catch_up_timeout
    caught_up = None
    while time.perf_counter() < deadline:
        now_landed = landed(state_url) - landed_before
        samples.append((time.perf_counter() - started, accepted_total, now_landed))
        if now_landed >= accepted_total:
            caught_up = time.perf_counter() - started - load_seconds
            break
        time.sleep(0.25)
    cpu = {
        name: cpu_seconds(pid) - cpu_before[name]
        for name, pid in (("api", api_pid), ("consumer", consumer_pid))
    }
    written = {
        name: written_bytes(pid) - io_before[name]
        for name, pid in (("api", api_pid), ("consumer", consumer_pid))
    }
    millions = max(accepted_total, 1) / 1_000_000
    latencies = sorted(load.latencies_ms)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    accepted_rate = accepted_total / load_seconds
    landed_rate = landed_at_stop / load_seconds
    lake_bytes = sum(p.stat().st_size for p in (running.home / "lake").rglob("*") if p.is_file())
    return {
        "lake_bytes_per_event": lake_bytes / max(1, accepted_total),
        "seconds": load_seconds,
        "connections": args.connections,
        "per_request": args.per_request,
        "requests": load.requests,
        "failures": load.failures,
        "accepted": accepted_total,
        "accepted_per_second": accepted_rate,
        "landed_during_load": landed_at_stop,
        "landed_per_second": landed_rate,
        "landed_vs_accepted": landed_rate / accepted_rate if accepted_rate else 0.0,
        "lag_after_load_seconds": caught_up,
        "p50_ms": quantiles[49],
        "p99_ms": quantiles[98],
        "cpu_seconds_per_million": {name: s / millions for name, s in cpu.items()},
        "written_bytes_per_event": {
            name: b / max(accepted_total, 1) for name, b in written.items()
        },
        "goal_events_per_second": GOAL_EVENTS_PER_SECOND,
        "samples": samples,
    }


def report(figures: dict[str, object]) -> None:
    table = Table(title="End to end: HTTP → API → stream → consumer → committed Iceberg table")
    table.add_column("figure")
    table.add_column("value", justify="right")
    cpu = figures["cpu_seconds_per_million"]
    written = figures["written_bytes_per_event"]
    assert isinstance(cpu, dict)
    assert isinstance(written, dict)
    lag = figures["lag_after_load_seconds"]
    rows = [
        ("load", f"{figures['seconds']:.0f} s, {figures['connections']} connections"),
        ("requests (failed)", f"{figures['requests']:,} ({figures['failures']:,})"),
        ("accepted, events/s", f"{figures['accepted_per_second']:,.0f}"),
        ("landed during the load, events/s", f"{figures['landed_per_second']:,.0f}"),
        ("landed / accepted", f"{figures['landed_vs_accepted']:.2f}"),
        ("lag when the load stopped", "did not catch up" if lag is None else f"{lag:.1f} s"),
        ("API p50 / p99", f"{figures['p50_ms']:.0f} / {figures['p99_ms']:.0f} ms"),
        ("CPU s per million events: API", f"{cpu['api']:.1f}"),
        ("CPU s per million events: consumer", f"{cpu['consumer']:.1f}"),
        ("bytes written per event: API", f"{written['api']:,.0f}"),
        ("bytes written per event: consumer", f"{written['consumer']:,.0f}"),
        ("lake bytes per event", f"{figures['lake_bytes_per_event']:,.0f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    landed_rate = float(figures["landed_per_second"])  # type: ignore[arg-type]
    console.print(
        f"goal: {GOAL_EVENTS_PER_SECOND:,} events/s landed, sustained with bounded lag: "
        + (
            "[green]met[/]"
            if landed_rate >= GOAL_EVENTS_PER_SECOND and lag is not None
            else f"[red]not met[/] ({landed_rate / GOAL_EVENTS_PER_SECOND:.0%} of it)"
        )
    )


def plot(figures: dict[str, object], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = figures["samples"]
    assert isinstance(samples, list)
    ts = [s[0] for s in samples]
    fig, (total, rate) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    total.plot(ts, [s[1] for s in samples], label="accepted by the API")
    total.plot(ts, [s[2] for s in samples], label="landed in the table")
    total.axvline(float(figures["seconds"]), color="grey", linestyle=":", label="load stops")  # type: ignore[arg-type]
    total.set_ylabel("events (cumulative)")
    total.legend()
    total.grid(alpha=0.3)

    def per_second(column: int) -> list[float]:
        """Events/s over the trailing SMOOTH_SECONDS: a commit lands a whole batch at once,
        so the rate between two samples would jump between zero and its batch."""
        out = []
        for index, (t, *_) in enumerate(samples):
            first = next(i for i in range(index + 1) if samples[i][0] >= t - SMOOTH_SECONDS)
            span = t - samples[first][0]
            out.append((samples[index][column] - samples[first][column]) / span if span else 0.0)
        return out

    rate.plot(ts, per_second(1), label=f"accepted, events/s (over {SMOOTH_SECONDS:.0f} s)")
    rate.plot(ts, per_second(2), label=f"landed, events/s (over {SMOOTH_SECONDS:.0f} s)")
    rate.axhline(GOAL_EVENTS_PER_SECOND, color="red", linestyle="--", label="goal")
    rate.set_xlabel("seconds")
    rate.set_ylabel("events/s")
    rate.legend()
    rate.grid(alpha=0.3)
    fig.suptitle(f"End to end on {os.cpu_count()} CPUs: HTTP → API → stream → consumer → Iceberg")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
