"""The consumer's memory: peak RSS of `eventlake consume` against the length of the stream.

A consumer holds at most one batch (``consumer.max_batch_events`` / ``max_batch_bytes``) and
its shards' deduplication windows (``dedup_window`` keys each), so its memory must be bounded by
those settings, not by how many events the stream holds. The windows here are smaller than the
default (``--dedup-window``), so that both streams fill them: with the default (2,000,000 keys a
shard, 8,000,000 on 4 shards) a 4,000,000-event stream would still be filling them, and the
longer run would show the windows growing toward their bound, not the bound.

Two streams are filled with sample events (500 to a stream record,
as the API publishes them): a short one and one ``--factor`` times longer. For each,
`eventlake consume --until-caught-up` runs as its own process (only the consumer's memory is
measured), its resident set sampled from /proc every 50 ms. The figures: peak RSS, peak RSS per
million events, and the ratio of the two peaks (short over long: near 1 when the memory is
bounded; a consumer whose memory grew with the stream would show 1/factor). A plot shows RSS
against time for both runs.

    python benchmarks/bench_memory.py --events 1000000 --factor 4
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

# The figures' files (benchmarks/figures.py), however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as bench_figures
from routed import Router

from eventlake.config import Settings
from eventlake.lake import Lake
from eventlake.sample_data import SampleConfig, generate_events
from eventlake.stream import open_stream
from eventlake.stream.base import OutgoingRecord

console = Console()
RECEIVED_AT_US = 1_795_000_000_000_000
RECORDS_PER_PUBLISH = 200  # stream records per publish call: the generator is never held whole
SAMPLE_SECONDS = 0.05


@dataclass
class Run:
    events: int
    landed: int
    seconds: float
    peak_rss_mb: float
    samples: list[tuple[float, float]]  # (seconds since start, RSS in MB)

    @property
    def peak_mb_per_million(self) -> float:
        return self.peak_rss_mb * 1_000_000 / self.events


def fill(settings: Settings, events: int, per_request: int, seed: int) -> None:
    """``events`` sample events into the stream, ``per_request`` to a record."""
    stream = open_stream(settings, "events")
    stream.ensure()
    lines: list[str] = []
    records: list[OutgoingRecord] = []

    # Routed as the API routes them: every copy of an event on the shard owning its key.
    router = Router(stream, "events", RECEIVED_AT_US)

    def flush_request() -> None:
        records.extend(router.records(uuid.uuid4().hex, "\n".join(lines).encode()))
        lines.clear()

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"publishing {events:,} events", total=events)
        for record in generate_events(SampleConfig(events=events, seed=seed)):
            lines.append(record.line)
            if len(lines) == per_request:
                flush_request()
                progress.advance(task, per_request)
            if len(records) >= RECORDS_PER_PUBLISH:
                stream.publish(records)
                records.clear()
        if lines:
            flush_request()
        if records:
            stream.publish(records)
    stream.close()


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def consume(home: Path, events: int, dedup_window: int) -> Run:
    """`eventlake consume --until-caught-up` on ``home``, its RSS sampled until it exits."""
    env = {**os.environ, "EVENTLAKE_HOME": str(home), "EVENTLAKE_DEDUP_WINDOW": str(dedup_window)}
    command = [sys.executable, "-m", "eventlake.cli", "consume", "--until-caught-up"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    samples: list[tuple[float, float]] = []
    while process.poll() is None:
        rss = rss_mb(process.pid)
        if rss is not None:
            samples.append((time.perf_counter() - started, rss))
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    out = process.stdout.read().decode() if process.stdout else ""
    if process.returncode != 0:
        raise SystemExit(f"eventlake consume failed ({process.returncode}):\n{out[-3000:]}")
    landed = Lake(Settings(home=home)).table("events").scan(selected_fields=("event_id",))
    return Run(
        events=events,
        landed=landed.to_arrow().num_rows,
        seconds=seconds,
        peak_rss_mb=max((rss for _, rss in samples), default=0.0),
        samples=samples,
    )


def main(argv: list[str] | None = None) -> list[Run]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="the short stream")
    parser.add_argument("--factor", type=int, default=4, help="the long stream, in short ones")
    parser.add_argument("--per-request", type=int, default=500)
    parser.add_argument(
        "--dedup-window", type=int, default=200_000, help="keys a shard's window keeps"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: HOME/reports")
    args = parser.parse_args(argv)

    runs = []
    with tempfile.TemporaryDirectory(prefix="eventlake-bench-memory-") as scratch:
        for events in (args.events, args.events * args.factor):
            home = Path(scratch) / f"home-{events}"
            fill(Settings(home=home), events, args.per_request, seed=7)
            console.print(f"consuming {events:,} events (eventlake consume, its own process)")
            runs.append(consume(home, events, args.dedup_window))

    settings = Settings()
    short, long = runs
    table = Table(
        title="eventlake consume's peak memory against the stream's length "
        f"(batches of at most {settings.consumer.max_batch_events:,} events, "
        f"{settings.consumer.max_batch_bytes / 1_048_576:.0f} MiB; windows of "
        f"{args.dedup_window:,} keys a shard)"
    )
    for column in ("events", "landed", "seconds", "peak RSS", "per million events"):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(
            f"{run.events:,}",
            f"{run.landed:,}",
            f"{run.seconds:.1f}",
            f"{run.peak_rss_mb:,.0f} MB",
            f"{run.peak_mb_per_million:,.0f} MB",
        )
    console.print(table)
    bounded = short.peak_rss_mb / long.peak_rss_mb
    console.print(
        f"peak RSS, short stream / {args.factor}x longer: {bounded:.2f} "
        f"(1.00: bounded by the batch; {1 / args.factor:.2f}: growing with the stream)"
    )
    out = bench_figures.save(
        "memory",
        {
            "per_request": args.per_request,
            "factor": args.factor,
            "max_batch_events": settings.consumer.max_batch_events,
            "max_batch_bytes": settings.consumer.max_batch_bytes,
            "dedup_window": args.dedup_window,
            "runs": [asdict(r) | {"peak_mb_per_million": r.peak_mb_per_million} for r in runs],
            "short_vs_long_peak": bounded,
        },
        args.out,
    )
    plot(runs, out.with_suffix(".png"))
    console.print(f"figures: {out}\nplot:    {out.with_suffix('.png')}")
    return runs


def plot(runs: list[Run], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for run in runs:
        xs = [t for t, _ in run.samples]
        ys = [rss for _, rss in run.samples]
        ax.plot(xs, ys, label=f"{run.events:,} events (peak {run.peak_rss_mb:,.0f} MB)")
    ax.set_xlabel("seconds since eventlake consume started")
    ax.set_ylabel("resident memory (MB)")
    ax.set_title("eventlake consume's memory on a short and a 4x longer stream")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
