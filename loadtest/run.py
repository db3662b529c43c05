"""``make loadtest``: start the API on a loopback port, run locust headless against it, print
requests/s, events/s, p50 and p99, and compare them with the targets.

The API runs as users run it (``eventlake serve``, one worker, the embedded stream), in a
throwaway EVENTLAKE_HOME, with a key made for the run. Locust runs as its own process (its
gevent patches must not meet boto3 in ours). On a machine with two CPUs or more, the API is
pinned to the first CPU and locust to the others, as if the load came from another machine:
unpinned, the two fight over the same cores and the figures measure the scheduler
(``--no-pin`` to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from eventlake.pipeline.supervisor import ServiceError, wait_for_api
from eventlake.ports import free_port

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TARGET_EVENTS_PER_SECOND = 150_000
TARGET_P99_MS = 100.0
console = Console()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=16, help="concurrent connections")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--events-per-request", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1, help="API worker processes")
    parser.add_argument(
        "--no-pin", action="store_true", help="let the API and locust share every CPU"
    )
    parser.add_argument(
        "--home", type=Path, help="keep the API's EVENTLAKE_HOME here (default: a throwaway one)"
    )
    args = parser.parse_args()
    server_cpus, locust_cpus = _cpu_split(args.workers, pin=not args.no_pin)

    key = secrets.token_urlsafe(24)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="eventlake-loadtest-") as scratch:
        home = str(args.home or scratch)
        Path(home).mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "EVENTLAKE_HOME": home, "EVENTLAKE_API_KEYS": f"loadtest:{key}"}
        server = subprocess.Popen(
            [
                str(BIN / "eventlake"),
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            preexec_fn=_pinned(server_cpus),
        )
        try:
            try:
                wait_for_api(url, server, timeout=60)
            except ServiceError as error:
                raise SystemExit(str(error)) from None
            console.print(
                f"API on {url} ({args.workers} worker, CPUs {_cpus(server_cpus)}); locust "
                f"(CPUs {_cpus(locust_cpus)}): {args.users} connections, "
                f"{args.events_per_request}-event JSON batches, {args.seconds} s"
            )
            prefix = Path(home) / "locust"
            summary = Path(home) / "locust_summary.json"
            subprocess.run(
                [
                    str(BIN / "locust"),
                    "-f",
                    str(HERE / "locustfile.py"),
                    "--headless",
                    "--host",
                    url,
                    "--users",
                    str(args.users),
                    "--spawn-rate",
                    str(args.users),
                    "--run-time",
                    f"{args.seconds}s",
                    "--csv",
                    str(prefix),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                env={
                    **env,
                    "LOADTEST_API_KEY": key,
                    "LOADTEST_EVENTS_PER_REQUEST": str(args.events_per_request),
                    "LOADTEST_SUMMARY": str(summary),
                },
                check=False,
            )
            stats = _summary(summary)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return _report(stats, args.events_per_request)


def _cpu_split(workers: int, *, pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """CPUs for the API (one per worker) and for locust (the rest); None: no pinning."""
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < workers + 1:
        return None, None
    return set(cpus[:workers]), set(cpus[workers:])


def _pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def _cpus(cpus: set[int] | None) -> str:
    return "all" if cpus is None else ",".join(map(str, sorted(cpus)))


def _summary(path: Path) -> dict[str, float]:
    """Locust's final figures over every request (written by the locustfile at the end)."""
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise SystemExit(f"locust wrote no summary ({path}): {error}") from error


def _report(stats: dict[str, float], events_per_request: int) -> int:
    requests = int(stats["requests"])
    failures = int(stats["failures"])
    if requests == 0:
        console.print("[bold red]no request completed: is the run too short, or the API down?")
        return 1
    rps = float(stats["requests_per_second"]) * (requests - failures) / max(requests, 1)
    events_per_second = rps * events_per_request
    p50, p99 = float(stats["p50_ms"]), float(stats["p99_ms"])
    table = Table(title="Ingest load test (accepted into the embedded stream)")
    for column in ("measure", "value", "target"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    table.add_row("requests", f"{requests:,} ({failures:,} failed)", "0 failed")
    table.add_row("accepted requests/s", f"{rps:,.0f}", "")
    table.add_row("events/s", f"{events_per_second:,.0f}", f"≥ {TARGET_EVENTS_PER_SECOND:,}")
    table.add_row("p50 latency", f"{p50:.0f} ms", "")
    table.add_row("p99 latency", f"{p99:.0f} ms", f"< {TARGET_P99_MS:.0f} ms")
    console.print(table)
    met = failures == 0 and events_per_second >= TARGET_EVENTS_PER_SECOND and p99 < TARGET_P99_MS
    console.print("[bold green]targets met" if met else "[bold yellow]targets not met")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
