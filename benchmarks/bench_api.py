"""The API against bare uvicorn: what the Python work per request costs, under the same load.

`eventlake serve` (one uvicorn worker, the real ``POST /api/v1/ingest`` with its defaults, the
embedded stream) and a bare ASGI app on uvicorn with the same worker settings
(benchmarks/bare_asgi.py: it reads the whole body and answers 202, nothing else) both run on
this machine. The same clients (benchmarks/http_load.py: ``--connections`` threads on
keep-alive connections sending the same 500-event JSON bodies) load one, then the other, in
alternating rounds of ``--seconds`` each, so that both see the same machine. Measured for
each: requests/s, events/s (the API's accepted; the bare one's read), p50/p99 as the clients
saw them, and the server's CPU seconds per million events (/proc).

The guard's ratio is the API's requests/s over the bare app's: how much of uvicorn's reach the
API keeps while it parses, validates, fsyncs and records every batch. The goal is 0.5.

    python benchmarks/bench_api.py --seconds 10 --rounds 2 --connections 8
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

# The figures' files (benchmarks/figures.py) and the HTTP load (benchmarks/http_load.py),
# however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as bench_figures
from http_load import Load, api_service, client, cpu_seconds, templates

from eventlake.pipeline.supervisor import ServiceError, wait_for_health
from eventlake.ports import free_port

console = Console()
HERE = Path(__file__).resolve().parent
GOAL_API_VS_BARE = 0.5
WARM_UP_SECONDS = 1.0


@dataclass(frozen=True)
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    key: str


@dataclass
class Tally:
    """One server's rounds, added up."""

    seconds: float = 0.0
    requests: int = 0
    failures: int = 0
    accepted: int = 0  # events the server said it accepted (the bare one says none)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    latencies_ms: list[float] | None = None
    statuses: dict[int, int] | None = None


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each round, each server")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--per-request", type=int, default=500)
    parser.add_argument("--out", type=Path, default=None, help="default: HOME/reports")
    args = parser.parse_args(argv)

    bodies = templates(args.per_request)
    with (
        tempfile.TemporaryDirectory(prefix="eventlake-bench-api-") as scratch,
        api_service(Path(scratch)) as (api, api_port, key, _),
        bare_service() as (bare, bare_port),
    ):
        servers = [Server("api", api, api_port, key), Server("bare", bare, bare_port, key)]
        figures = run(args, servers, bodies)
    report(figures)
    out = bench_figures.save("api", figures, args.out)
    console.print(f"figures: {out}")
    return figures


@contextlib.contextmanager
def bare_service() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """benchmarks/bare_asgi.py on uvicorn as `eventlake serve` runs the API: one worker, the
    same defaults (uvloop, httptools), log level warning."""
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "bare_asgi:app", "--app-dir", str(HERE)),
            *("--port", str(port), "--workers", "1", "--log-level", "warning"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}/", process, what="the bare app", timeout=60)
        yield process, port
    except ServiceError as error:
        raise SystemExit(str(error)) from None
    finally:
        process.terminate()
        process.wait(timeout=60)


def load(server: Server, args: argparse.Namespace, bodies: list[bytes], seconds: float) -> Tally:
    """``seconds`` of the clients' load on ``server``."""
    state = Load()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=client, args=(server.port, server.key, bodies, n, state, stop), daemon=True
        )
        for n in range(args.connections)
    ]
    cpu_before, client_before = cpu_seconds(server.process.pid), _own_cpu()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return Tally(
        seconds=time.perf_counter() - started,
        requests=state.requests,
        failures=state.failures,
        accepted=state.accepted,
        server_cpu=cpu_seconds(server.process.pid) - cpu_before,
        client_cpu=_own_cpu() - client_before,
        latencies_ms=state.latencies_ms,
        statuses=state.statuses,
    )


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def run(args: argparse.Namespace, servers: list[Server], bodies: list[bytes]) -> dict[str, object]:
    console.print(
        f"{args.connections} connections, {args.per_request}-event JSON bodies, "
        f"{args.rounds} rounds of {args.seconds:g} s on each server; servers and clients on "
        f"this machine's {os.cpu_count()} CPUs"
    )
    for server in servers:  # the first requests open files and fill caches
        load(server, args, bodies, min(WARM_UP_SECONDS, args.seconds))
    tallies = {server.name: Tally(latencies_ms=[], statuses={}) for server in servers}
    round_ratios = []
    for _ in range(args.rounds):
        rates = {}
        for server in servers:
            measured = load(server, args, bodies, args.seconds)
            total = tallies[server.name]
            total.seconds += measured.seconds
            total.requests += measured.requests
            total.failures += measured.failures
            total.accepted += measured.accepted
            total.server_cpu += measured.server_cpu
            total.client_cpu += measured.client_cpu
            assert total.latencies_ms is not None
            assert total.statuses is not None
            total.latencies_ms += measured.latencies_ms or []
            for status, count in (measured.statuses or {}).items():
                total.statuses[status] = total.statuses.get(status, 0) + count
            rates[server.name] = measured.requests / measured.seconds
        round_ratios.append(rates["api"] / rates["bare"] if rates["bare"] else 0.0)
    figures: dict[str, object] = {
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "connections": args.connections,
        "per_request": args.per_request,
    }
    for name, total in tallies.items():
        # The API answers with the events it accepted; the bare app read every event sent.
        events = total.accepted if name == "api" else total.requests * args.per_request
        latencies = sorted(total.latencies_ms or [])
        quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
        figures[name] = {
            "seconds": total.seconds,
            "requests": total.requests,
            "failures": total.failures,
            "statuses": {str(k): v for k, v in (total.statuses or {}).items()},
            "requests_per_second": total.requests / total.seconds,
            "events_per_second": events / total.seconds,
            "p50_ms": quantiles[49],
            "p99_ms": quantiles[98],
            "server_cpu_seconds_per_million": total.server_cpu / max(events, 1) * 1_000_000,
            "server_cpu_share": total.server_cpu / total.seconds,
            "client_cpu_share": total.client_cpu / total.seconds,
        }
    api, bare = figures["api"], figures["bare"]
    assert isinstance(api, dict)
    assert isinstance(bare, dict)
    figures["api_vs_bare"] = (
        api["requests_per_second"] / bare["requests_per_second"]
        if bare["requests_per_second"]
        else 0.0
    )
    figures["round_ratios"] = round_ratios
    figures["goal_api_vs_bare"] = GOAL_API_VS_BARE
    return figures


def report(figures: dict[str, object]) -> None:
    table = Table(title="The API against bare uvicorn, same load, same worker settings")
    for column in ("figure", "API", "bare uvicorn"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    api, bare = figures["api"], figures["bare"]
    assert isinstance(api, dict)
    assert isinstance(bare, dict)
    rows = [
        ("requests/s", "{requests_per_second:,.0f}"),
        ("events/s (accepted / read)", "{events_per_second:,.0f}"),
        ("requests (failed)", "{requests:,} ({failures:,})"),
        ("p50 / p99", "{p50_ms:.1f} / {p99_ms:.1f} ms"),
        ("server CPU s per million events", "{server_cpu_seconds_per_million:.2f}"),
        ("server CPU (cores busy)", "{server_cpu_share:.2f}"),
        ("client CPU (cores busy)", "{client_cpu_share:.2f}"),
    ]
    for name, template in rows:
        table.add_row(name, template.format(**api), template.format(**bare))
    console.print(table)
    ratio = float(figures["api_vs_bare"])  # type: ignore[arg-type]
    rounds = ", ".join(f"{r:.2f}" for r in figures["round_ratios"])  # type: ignore[attr-defined]
    verdict = "[green]met[/]" if ratio >= GOAL_API_VS_BARE else "[red]not met[/]"
    console.print(
        f"API / bare uvicorn, requests/s: {ratio:.2f} (rounds: {rounds}); "
        f"goal {GOAL_API_VS_BARE:g}: {verdict}"
    )


if __name__ == "__main__":
    main()
