"""What routing events (not requests) costs the API: the ingest library with and without it.

The same 500-event JSON bodies (as ``make loadtest`` sends them) go through ``Ingestor.accept``
twice in one process, on an embedded stream of 4 shards: once routed (each body cut into one
stream record per shard owning its events' keys), once as before routing (the whole body as
one record keyed by its job id). Everything else is the real path: validation by the Rust core,
the group-committed publish with its fsync, the job write. Requests are sent from
``--threads`` threads, as the API's thread pool does, and the two modes alternate in rounds so
that both see the same machine. The figure is the median of the rounds' ratios, routed over
whole; the budget for routing is a loss under 10%.

    python benchmarks/bench_routing.py --requests 2000 --threads 8
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

# The figures' files (benchmarks/figures.py), however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as bench_figures

# The load test's own bodies (loadtest/bodies.py), from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loadtest"))
from bodies import request_body

from eventlake.config import EmbeddedStreamSettings, Settings, StreamSettings
from eventlake.ingest import Ingestor, routing
from eventlake.ingest.ingestor import _Checked
from eventlake.state import open_state
from eventlake.stream.envelope import BodyFormat

console = Console()


def body(rng: random.Random, events: int) -> bytes:
    """One request as the load test builds it."""
    return request_body(rng, events, datetime(2026, 11, 1, tzinfo=UTC))


class Unrouted(Ingestor):
    """The ingest path as it was before routing: the whole body, one record, the job id's
    hash choosing the shard."""

    def _route(
        self, dataset: str, stream: object, checked: _Checked, body_format: BodyFormat
    ) -> list[routing.Part]:
        return [routing.Part("", None, checked.body, checked.received)]


def written_bytes() -> int | None:
    """Bytes this process has caused to be written to storage (Linux), else None."""
    try:
        with open("/proc/self/io") as io:
            for line in io:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run(ingestor: Ingestor, bodies: list[bytes], threads: int) -> float:
    """Requests per second over ``bodies``, sent from ``threads`` threads."""

    def send(data: bytes) -> None:
        answer = ingestor.accept(
            data,
            dataset="events",
            content_type="application/json",
            content_encoding=None,
            source="bench",
        )
        assert answer.status_code == 202, answer.body

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, bodies))
    return len(bodies) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per mode, over all rounds")
    parser.add_argument("--per-request", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    rng = random.Random(7)  # noqa: S311 — seeded benchmark data
    pool = [body(rng, args.per_request) for _ in range(min(args.requests, 200))]
    per_round = max(1, args.requests // args.rounds)
    console.print(
        f"{args.requests} requests of {args.per_request} events per mode, {args.threads} "
        f"threads, {args.rounds} rounds; embedded stream, 4 shards"
    )
    with tempfile.TemporaryDirectory(prefix="eventlake-bench-") as scratch:
        figures: dict[str, list[float]] = {"routed": [], "whole": []}
        # What each mode wrote to disk (the stream's WAL and checkpoints, the job state): the
        # log's page writes are most of what a routed request costs more (docs/benchmarks.md).
        written = {"routed": 0, "whole": 0}
        ingestors = {}
        states = []
        for mode, kind in (("routed", Ingestor), ("whole", Unrouted)):
            settings = Settings(
                home=Path(scratch) / mode,
                stream=StreamSettings(backend=EmbeddedStreamSettings(shards=4)),
            )
            settings.home.mkdir(parents=True)
            state = open_state(settings.state_database_url)
            states.append(state)
            ingestors[mode] = kind(settings, state)
            run(ingestors[mode], pool[:20], args.threads)  # warm: streams, connections
        # Short rounds, the two modes back to back in alternating order: the machine's load
        # drifts (other processes, the disk), so each round's ratio compares like with like.
        for round_number in range(args.rounds):
            order = ("routed", "whole") if round_number % 2 == 0 else ("whole", "routed")
            bodies = [pool[(round_number * per_round + i) % len(pool)] for i in range(per_round)]
            for mode in order:
                before = written_bytes()
                figures[mode].append(run(ingestors[mode], bodies, args.threads))
                after = written_bytes()
                if before is not None and after is not None:
                    written[mode] += after - before
        checked = _checked(ingestors["routed"], pool[:50])
        parts = [len(ingestors["routed"]._route("events", s, c, "json")) for s, c in checked]
        own = _routing_time(ingestors["routed"], pool[:50])
        for ingestor in ingestors.values():
            ingestor.close()
        for state in states:
            state.close()

    routed, whole = (statistics.median(figures[m]) for m in ("routed", "whole"))
    ratios = sorted(r / w for r, w in zip(figures["routed"], figures["whole"], strict=True))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    table = Table(title="Ingest with and without routing (requests/s over the rounds)")
    for column in ("mode", "median requests/s", "events/s", "min", "max"):
        table.add_column(column, justify="right" if column != "mode" else "left")
    for label, key in (
        ("whole body, one record", "whole"),
        ("routed, a record per shard", "routed"),
    ):
        rates = figures[key]
        median = routed if key == "routed" else whole
        table.add_row(
            label,
            f"{median:.0f}",
            f"{median * args.per_request:,.0f}",
            f"{min(rates):.0f}",
            f"{max(rates):.0f}",
        )
    console.print(table)
    ratio = statistics.median(ratios)
    console.print(
        f"routed / whole, median of {len(ratios)} paired rounds: {ratio:.3f} "
        f"(quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}): {(1 - ratio) * 100:.1f}% cost, "
        f"budget 10%; {statistics.mean(parts):.1f} stream records per request routed"
    )
    if all(written.values()):
        requests = per_round * args.rounds
        console.print(
            "written to disk per request: "
            + ", ".join(f"{m} {written[m] / requests / 1024:.0f} KiB" for m in ("routed", "whole"))
            + f" (routed/whole {written['routed'] / written['whole']:.2f})"
        )
    console.print(
        "routing's own time per request, one thread: "
        + ", ".join(f"{step} {seconds * 1e6:.0f} us" for step, seconds in own.items())
    )
    out = bench_figures.save(
        "routing",
        {
            "requests_per_mode": args.requests,
            "per_request": args.per_request,
            "threads": args.threads,
            "rounds": len(ratios),
            "requests_per_second": {"routed": routed, "whole": whole},
            "routed_vs_whole": ratio,
            "routed_vs_whole_quartiles": [quartiles[0], quartiles[2]],
            "records_per_request_routed": statistics.mean(parts),
            "written_bytes": written if all(written.values()) else None,
            "routing_seconds_per_request": own,
        },
    )
    console.print(f"figures: {out}")


def _routing_time(ingestor: Ingestor, bodies: list[bytes]) -> dict[str, float]:
    """Seconds per request (median) of what routing adds: the one call into the core that
    hashes the keys and cuts the body (validation notes the record extents on its way)."""
    contract = ingestor.contracts["events"]
    stream = ingestor.streams.get("events")
    shard_map = ingestor.shard_maps.get("events", stream.shards)
    assert shard_map is not None
    routing_s = []
    for data in bodies * 4:
        batch, extents = ingestor._validate(data, "json", contract)
        started = time.perf_counter()
        parts = routing.split(data, batch, extents, shard_map)
        routing_s.append(time.perf_counter() - started)
        assert parts is not None
    return {"route (hash and cut)": statistics.median(routing_s)}


def _checked(ingestor: Ingestor, bodies: list[bytes]) -> list[tuple[object, _Checked]]:
    """(stream, checked body) pairs, to count the parts routing makes of each body."""
    stream = ingestor.streams.get("events")
    contract = ingestor.contracts["events"]
    return [(stream, ingestor._check(data, "json", contract, uuid.uuid4().hex)) for data in bodies]


if __name__ == "__main__":
    main()
