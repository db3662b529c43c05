"""Scale-out: 1, 2 and 4 consumer processes sharing one 4-shard stream by leases.

The stream is filled once through the ingest library (``Ingestor.accept``, routed as the API
routes: each 500-event NDJSON body cut into one record per shard owning its events' keys; the
sample data carries duplicates across requests and invalid events). Each run starts from a
copy of that home (stream and state database, no lake) and then:

1. backlog: N consumer processes (``eventlake.consumer.consume``, as ``eventlake consume``
   runs it) are started, and once all of them have imported everything they are told to go;
   the clock stops when the lake's watermark covers every published position. Events/s landed
   is the events published over that wall time; the leases are shared as in production, so
   the time includes the consumers taking their share (a refresh every 0.5 s here);
2. sustained load: with the consumers still running, the same extra bodies are published at a
   fixed rate, and the lag is the time from the last publish to all of it landed (bounded
   below by the batch's time limit, ``consumer.max_batch_seconds``);
3. the consumers are stopped (SIGTERM: the batch in hand commits) and report how often a lake
   commit lost the race to another writer (``Lake.commit``'s retries, logged by
   ``eventlake.lake.writer``); the table is checked: every event id once.

Every run reads the same stream, so the ratios against the one-consumer run compare like
with like. On a 2-core machine 4 consumers cannot be faster than 2: see docs/benchmarks.md.

    python benchmarks/bench_scaleout.py --events 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# The figures' files (benchmarks/figures.py), however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as bench_figures

ENV = {
    # Leases refreshed often, so that the shares settle within the first second or two of a
    # run (the default, 3 s, is for production, where consumers live for hours). Their length
    # stays the default (10 s): no consumer dies here, so a shorter one would only show how
    # often a heartbeat is late on a loaded 2-core machine (the heartbeat thread renews them
    # whatever a batch is doing, so it no longer has to outlast the slowest batch).
    "EVENTLAKE_CONSUMER__LEASE_RENEW_SECONDS": "0.5",
}
PER_REQUEST = 500
SHARDS = 4


# --- the consumer process ----------------------------------------------------------------------


def worker() -> None:
    """One consumer: waits for "go" on stdin, consumes until SIGTERM, prints its figures as
    one JSON line. Only the library is imported here, not the benchmark's table and plot."""
    import logging

    from eventlake.config import Settings
    from eventlake.consumer import consume
    from eventlake.lake import Lake
    from eventlake.state import open_state

    counts = {"conflicts": 0, "retries": 0, "overlaps": 0, "leases_lost": 0, "dropped": 0}

    class CountEvents(logging.Handler):
        # Lake.commit logs each attempt that lost the race (CommitFailedException) at INFO,
        # with the attempt's number: attempt 1 is a commit's first conflict, every one is a
        # retry. The service warns (or logs an error) when a batch failed and starts again,
        # e.g. when it overlapped a commit by another consumer.
        def emit(self, record: logging.LogRecord) -> None:
            message = str(record.msg)
            if record.name == "eventlake.lake.writer" and "did not go through" in message:
                counts["retries"] += 1
                counts["conflicts"] += record.args[1] == 1  # type: ignore[index]
            elif record.name == "eventlake.consumer.service" and record.levelno >= logging.WARNING:
                counts["overlaps"] += 1
            # A lease moving (stolen while the shares settle): the loser drops what it read.
            elif record.name == "eventlake.consumer.leases" and "lost the lease" in message:
                counts["leases_lost"] += 1
            elif record.name == "eventlake.consumer.consumer" and "lost the leases of" in message:
                counts["dropped"] += 1

    watched = (
        "eventlake.lake.writer",
        "eventlake.consumer.service",
        "eventlake.consumer.leases",
        "eventlake.consumer.consumer",
    )
    for name in watched:
        logging.getLogger(name).setLevel(logging.INFO)
        logging.getLogger(name).addHandler(CountEvents())
    settings = Settings()
    lake, state = Lake(settings), open_state(settings.state_database_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    cpu = os.times()
    report = consume(settings, datasets=["events"], stop=stop, lake=lake, state=state)
    events = report.datasets["events"]
    used = os.times()
    cpu_seconds = used.user + used.system - cpu.user - cpu.system  # all of its threads
    figures = {"landed": events.landed, "batches": events.batches, "cpu": cpu_seconds, **counts}
    print(json.dumps(figures), flush=True)


# --- the benchmark -----------------------------------------------------------------------------


@dataclass
class Run:
    consumers: int
    seconds: float  # backlog: go to every position in the lake
    events_per_second: float
    lag_seconds: float  # sustained load: last publish to every position in the lake
    load_events_per_second: float  # the rate the load phase managed to publish at
    batches: int
    conflicts: int  # commits that lost a race at least once
    retries: int  # attempts lost (each one retried)
    overlaps: int  # batches that failed and started again (e.g. overlapping another's commit)
    leases_lost: int  # leases taken from a consumer by another (while the shares settle)
    dropped: int  # times a consumer dropped the records it had read of a shard it lost
    minutes: float  # the consumers' running time
    cpu_seconds: float  # the CPU time the consumers used in that time, all processes
    rows: int
    distinct_ids: int
    expected_rows: int  # the valid events, each once
    dead_letters: int

    @property
    def exactly_once(self) -> bool:
        return self.rows == self.distinct_ids == self.expected_rows

    @property
    def conflicts_per_minute(self) -> float:
        return self.conflicts / self.minutes

    @property
    def retries_per_minute(self) -> float:
        return self.retries / self.minutes


class Publisher:
    """The ingest library on one home, remembering the last position published per shard
    (what "everything landed" means: the lake's watermark at or past each of them)."""

    def __init__(self, home: Path) -> None:
        from eventlake.config import Settings
        from eventlake.ingest import Ingestor
        from eventlake.state import open_state

        self.settings = Settings(home=home)
        home.mkdir(parents=True, exist_ok=True)
        self.state = open_state(self.settings.state_database_url)
        self.ingestor = Ingestor(self.settings, self.state)
        self.last: dict[str, int] = {}
        stream = self.ingestor.streams.get("events")
        publish_each = stream.publish_each

        # The ingestor publishes a group of requests' records in one call (publish_each).
        def tracked(batches: Any) -> Any:
            results = publish_each(batches)
            for published in results:
                for record in published if isinstance(published, list) else ():
                    self.last[record.shard_id] = max(
                        self.last.get(record.shard_id, 0), record.sequence_number
                    )
            return results

        stream.publish_each = tracked  # type: ignore[method-assign]
        self.stream_name = stream.name

    def send(self, body: bytes) -> None:
        answer = self.ingestor.accept(
            body,
            dataset="events",
            content_type="application/x-ndjson",
            content_encoding=None,
            source="bench",
        )
        assert answer.status_code == 202, answer.body

    def close(self) -> None:
        self.ingestor.close()
        self.state.close()


def landed(settings: Any, stream: str, last: dict[str, int]) -> bool:
    """Whether the lake's watermark covers every position in ``last``."""
    from pyiceberg.exceptions import NoSuchTableError

    from eventlake.consumer import position_key
    from eventlake.lake import Lake

    try:
        mark = Lake(settings).watermark("events")
    except NoSuchTableError:
        return False
    return all(mark.get(position_key(stream, s), 0) >= seq for s, seq in last.items())


def wait_landed(settings: Any, stream: str, last: dict[str, int], timeout: float) -> float:
    """Seconds until everything in ``last`` is in the lake (polled every 0.1 s)."""
    started = time.perf_counter()
    while not landed(settings, stream, last):
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"not everything landed within {timeout:.0f} s")
        time.sleep(0.1)
    return time.perf_counter() - started


def bodies(events: int, seed: int) -> tuple[list[bytes], int]:
    """The sample events as 500-event NDJSON bodies, and how many of them are valid and not a
    copy of an earlier one: the rows the lake must end up with."""
    from eventlake.sample_data import SampleConfig, generate_events

    records = list(generate_events(SampleConfig(events=events, seed=seed)))
    lines = [record.line for record in records]
    valid = sum(record.kind == "valid" for record in records)
    chunks = range(0, len(lines), PER_REQUEST)
    return ["\n".join(lines[i : i + PER_REQUEST]).encode() for i in chunks], valid


def one_run(
    template: Path,
    home: Path,
    consumers: int,
    events: int,
    load: list[bytes],
    load_seconds: float,
    expected_rows: int,
) -> Run:
    from eventlake.lake import Lake

    shutil.copytree(template, home)
    env = {**os.environ, **ENV, "EVENTLAKE_HOME": str(home)}
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(consumers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"a consumer did not start (exit code {proc.wait()})")
        publisher = Publisher(home)
        last = json.loads((template / "last.json").read_text())
        started = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        seconds = wait_landed(publisher.settings, publisher.stream_name, last, timeout=600)

        # Sustained load: the bodies spread evenly over load_seconds.
        load_started = time.perf_counter()
        for i, body in enumerate(load):
            due = load_started + load_seconds * i / len(load)
            time.sleep(max(0.0, due - time.perf_counter()))
            publisher.send(body)
        load_took = time.perf_counter() - load_started
        last.update(publisher.last)
        lag = wait_landed(publisher.settings, publisher.stream_name, last, timeout=600)
        publisher.close()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outs = [proc.communicate(timeout=120)[0] for proc in procs]
        minutes = (time.perf_counter() - started) / 60
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if any(proc.returncode for proc in procs):
        raise SystemExit(f"a consumer failed: {[proc.returncode for proc in procs]}")
    figures = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    lake = Lake(publisher.settings)
    ids = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    from eventlake.lake import DEAD_LETTER_TABLE

    dead = lake.table(DEAD_LETTER_TABLE).scan().count()
    load_events = sum(body.count(b"\n") + 1 for body in load)
    return Run(
        consumers=consumers,
        seconds=seconds,
        events_per_second=events / seconds,
        lag_seconds=lag,
        load_events_per_second=load_events / load_took if load_took else 0.0,
        batches=sum(f["batches"] for f in figures),
        conflicts=sum(f["conflicts"] for f in figures),
        retries=sum(f["retries"] for f in figures),
        overlaps=sum(f["overlaps"] for f in figures),
        leases_lost=sum(f["leases_lost"] for f in figures),
        dropped=sum(f["dropped"] for f in figures),
        minutes=minutes,
        cpu_seconds=sum(f["cpu"] for f in figures),
        rows=len(ids),
        distinct_ids=len(ids.unique()),
        expected_rows=expected_rows,
        dead_letters=dead,
    )


def fill(template: Path, backlog: list[bytes]) -> None:
    """The stream every run reads: the backlog published through the ingest library."""
    from concurrent.futures import ThreadPoolExecutor

    publisher = Publisher(template)
    # A few threads, as the API's pool sends them: the publishes are grouped (group commit).
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(publisher.send, backlog))
    if not publisher.last:
        # Every wait for the lake would then end at once, timing nothing.
        raise SystemExit("the publisher saw no stream positions: is publish_each still tracked?")
    (template / "last.json").write_text(json.dumps(publisher.last))
    publisher.close()


def report(runs: list[Run], events: int, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if console.width < 150:  # the table's columns, unwrapped (a pipe is 80 wide)
        console = Console(width=150)
    base = runs[0]
    table = Table(
        title=f"{events:,} events, {SHARDS} shards, consumers sharing them by lease "
        f"({os.cpu_count()} CPUs)"
    )
    columns = (
        "consumers",
        "backlog s",
        "events/s landed",
        "vs 1",
        "commits",
        "conflicts/min",
        "retries/min",
        "leases moved",
        "CPU s",
        "lag s",
        "lag vs 1",
        "rows: each valid id once",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(
            str(run.consumers),
            f"{run.seconds:.2f}",
            f"{run.events_per_second:,.0f}",
            f"{run.events_per_second / base.events_per_second:.2f}x",
            str(run.batches),
            f"{run.conflicts_per_minute:.1f}",
            f"{run.retries_per_minute:.1f}",
            str(run.leases_lost),
            f"{run.cpu_seconds:.1f}",
            f"{run.lag_seconds:.2f}",
            f"{run.lag_seconds / base.lag_seconds:.2f}x",
            f"{run.rows:,} ({'yes' if run.exactly_once else 'NO'})",
        )
    console.print(table)
    cpus = os.cpu_count() or 1
    if cpus < max(run.consumers for run in runs):
        console.print(
            f"This machine has {cpus} CPUs: more consumers than CPUs share them (and with the "
            "publisher during the load phase), so beyond that they cannot be faster; each "
            "commit to the one table is a compare-and-swap, and more writers lose more races."
        )
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "events": events,
        "shards": SHARDS,
        "cpus": cpus,
        "runs": [
            asdict(run)
            | {
                "conflicts_per_minute": run.conflicts_per_minute,
                "retries_per_minute": run.retries_per_minute,
                "ratio_vs_one": run.events_per_second / base.events_per_second,
            }
            for run in runs
        ],
    }
    saved = bench_figures.save("scaleout", figures, out)
    plot(runs, saved.with_suffix(".png"))
    console.print(f"figures: {saved}\nplot:    {saved.with_suffix('.png')}")


def plot(runs: list[Run], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(run.consumers) for run in runs]
    fig, (rate_ax, lag_ax, retry_ax) = plt.subplots(1, 3, figsize=(13, 4))
    rate_ax.bar(labels, [run.events_per_second for run in runs], color="tab:blue")
    for i, run in enumerate(runs):
        ratio = run.events_per_second / runs[0].events_per_second
        rate_ax.text(i, run.events_per_second, f"{ratio:.2f}x", ha="center", va="bottom")
    rate_ax.set_ylim(0, max(run.events_per_second for run in runs) * 1.12)  # room for labels
    rate_ax.set_title("events/s landed (backlog)")
    lag_ax.bar(labels, [run.lag_seconds for run in runs], color="tab:orange")
    lag_ax.set_title("lag after the load stops, s")
    width = 0.4
    positions = range(len(runs))
    retry_ax.bar(
        [p - width / 2 for p in positions],
        [run.conflicts_per_minute for run in runs],
        width,
        label="conflicts",
    )
    retry_ax.bar(
        [p + width / 2 for p in positions],
        [run.retries_per_minute for run in runs],
        width,
        label="retries",
    )
    retry_ax.set_xticks(list(positions), labels)
    retry_ax.set_title("commit conflicts and retries per minute")
    retry_ax.legend()
    for ax in (rate_ax, lag_ax, retry_ax):
        ax.set_xlabel("consumer processes")
    fig.suptitle(f"{SHARDS}-shard stream, consumers sharing it by lease, {os.cpu_count()} CPUs")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[Run]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # A million: most batches then close on size (500,000 events), not on the 2 s timer.
    parser.add_argument("--events", type=int, default=1_000_000, help="the backlog")
    parser.add_argument("--consumers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--load-events", type=int, default=60_000, help="the sustained load")
    parser.add_argument("--load-seconds", type=float, default=4.0)
    parser.add_argument("--out", type=Path, help="default: $EVENTLAKE_HOME/reports")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return []
    from rich.console import Console

    from eventlake.config import get_settings

    out = args.out or get_settings().home / "reports"
    console = Console()
    (backlog, valid), (load, load_valid) = bodies(args.events, 3), bodies(args.load_events, 4)
    console.print(
        f"backlog {args.events:,} events in {len(backlog):,} requests, then {args.load_events:,} "
        f"over {args.load_seconds:g} s; {args.consumers} consumer processes"
    )
    expected = valid + load_valid
    runs = []
    with tempfile.TemporaryDirectory(prefix="eventlake-bench-") as scratch:
        template = Path(scratch) / "template"
        started = time.perf_counter()
        fill(template, backlog)
        console.print(f"published in {time.perf_counter() - started:.1f} s")
        for consumers in args.consumers:
            home = Path(scratch) / f"run-{consumers}"
            run = one_run(template, home, consumers, args.events, load, args.load_seconds, expected)
            runs.append(run)
            console.print(
                f"{consumers} consumers: {run.seconds:.2f} s, lag {run.lag_seconds:.2f} s, "
                f"{run.rows:,} rows",
                highlight=False,
            )
            shutil.rmtree(home)
    bad = [run for run in runs if not run.exactly_once]
    report(runs, args.events, out)
    if bad:
        raise SystemExit(
            f"not exactly once: {[(r.consumers, r.rows, r.distinct_ids) for r in bad]}"
        )
    return runs


if __name__ == "__main__":
    main()
