"""Stream → lake against file → lake, on the same events, in one process.

The consumer's path (one stream record per 500-event request, read back from the embedded
stream, the core's stateless steps on a thread pool, the deduplication window, one exactly-once
commit per batch, the dead-letter table, job status) is timed against the path of
``eventlake process`` for a file holding the same events (the core in 64 MiB chunks, the same
lake commits). The ratio is the price of the stream: per-request records, the window and the
job bookkeeping. Publishing into the stream is timed too (without HTTP: ``make loadtest`` has
the API).

    python benchmarks/bench_consumer.py --events 1000000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

# The figures' files (benchmarks/figures.py), however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as bench_figures
from routed import Router

from eventlake.config import Settings
from eventlake.consumer import drain
from eventlake.contracts import load_contract
from eventlake.lake import Lake
from eventlake.pipeline.process_files import process_file
from eventlake.sample_data import SampleConfig, generate_events
from eventlake.stream import open_stream

RECEIVED_AT_US = 1_795_000_000_000_000
console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-request", type=int, default=500)
    args = parser.parse_args()

    lines = [record.line for record in generate_events(SampleConfig(events=args.events, seed=3))]
    size = sum(len(line) + 1 for line in lines)
    console.print(f"{len(lines):,} events, {size / 1e6:.1f} MB, {args.per_request} per request")

    with tempfile.TemporaryDirectory(prefix="eventlake-bench-") as scratch:
        # The baseline: the same events as one NDJSON file, through `eventlake process`.
        file_home = Path(scratch) / "file"
        path = Path(scratch) / "events.ndjson"
        path.write_text("\n".join(lines) + "\n")
        file_settings = Settings(home=file_home)
        lake = Lake(file_settings)
        started = time.perf_counter()
        report = process_file(path, load_contract("events"), job_id="bench", lake=lake)
        file_seconds = time.perf_counter() - started

        # The stream: one record per request, then the consumer until caught up.
        settings = Settings(home=Path(scratch) / "stream")
        stream = open_stream(settings, "events")
        stream.ensure()
        # Routed as the API routes them: every copy of an event on the shard owning its key.
        router = Router(stream, "events", RECEIVED_AT_US)
        records = []
        for start in range(0, len(lines), args.per_request):
            body = "\n".join(lines[start : start + args.per_request]).encode()
            records.extend(router.records(uuid.uuid4().hex, body))
        started = time.perf_counter()
        stream.publish(records)
        publish_seconds = time.perf_counter() - started
        Lake(settings)  # the catalog's first open is not the consumer's cost
        started = time.perf_counter()
        drained = drain(settings, datasets=["events"]).datasets["events"]
        stream_seconds = time.perf_counter() - started

    if (drained.landed, drained.duplicates) != (report.landed, report.duplicates):
        raise SystemExit(
            f"the paths disagree: stream landed {drained.landed:,} / {drained.duplicates:,} "
            f"duplicates, file {report.landed:,} / {report.duplicates:,}"
        )
    table = Table(title=f"{len(lines):,} events into the lake (landed {drained.landed:,})")
    for column in ("path", "seconds", "events/s", "vs file"):
        table.add_column(column, justify="left" if column == "path" else "right")
    table.add_row(
        "file → lake (eventlake process)",
        f"{file_seconds:.2f}",
        f"{len(lines) / file_seconds:,.0f}",
        "1.00x",
    )
    table.add_row(
        f"stream → lake (consumer, {len(records):,} records)",
        f"{stream_seconds:.2f}",
        f"{len(lines) / stream_seconds:,.0f}",
        f"{file_seconds / stream_seconds:.2f}x",
    )
    table.add_row(
        "publish to the embedded stream (one call)",
        f"{publish_seconds:.2f}",
        f"{len(lines) / publish_seconds:,.0f}",
        "",
    )
    console.print(table)
    out = bench_figures.save(
        "consumer",
        {
            "events": len(lines),
            "per_request": args.per_request,
            "file_seconds": file_seconds,
            "stream_seconds": stream_seconds,
            "publish_seconds": publish_seconds,
            "stream_vs_file": file_seconds / stream_seconds,
        },
    )
    console.print(f"figures: {out}")


if __name__ == "__main__":
    main()
