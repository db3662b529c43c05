"""HTTP load on a running API, and what /proc says of its processes: shared by the end-to-end
benchmark (bench_e2e.py: as fast as it goes) and the soak (soak.py: a steady rate for long).

Clients are threads on keep-alive connections sending 500-event JSON bodies (the load test's,
loadtest/bodies.py) whose event ids are made unique per request by replacing a placeholder, so
that no body is built per request and every event is new to the lake."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loadtest"))
from bodies import request_body

from eventlake.config import Settings
from eventlake.pipeline.supervisor import ServiceError, wait_for_api
from eventlake.ports import free_port
from eventlake.state import open_state

BIN = Path(sys.executable).parent
PLACEHOLDER = b"@@@@@@@@@@@@@@@@"  # replaced per request by a stamp of the same width
TEMPLATES = 16
URL = "/api/v1/ingest?dataset=events"


@dataclass
class Load:
    """What the clients did, shared by their threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: int = 0
    requests: int = 0
    failures: int = 0
    statuses: dict[int, int] = field(default_factory=dict)  # answers other than 202
    latencies_ms: list[float] = field(default_factory=list)

    def take_latencies(self) -> list[float]:
        """The latencies since the last call (the soak's per-interval percentiles)."""
        with self.lock:
            taken, self.latencies_ms = self.latencies_ms, []
        return taken


def templates(per_request: int) -> list[bytes]:
    rng = random.Random(11)  # noqa: S311 — benchmark data, not a secret
    start = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for _ in range(TEMPLATES):
        events = json.loads(request_body(rng, per_request, start))
        for index, event in enumerate(events):
            event["event_id"] = f"{PLACEHOLDER.decode()}-{index:04d}"
        out.append(json.dumps(events, separators=(",", ":")).encode())
    return out


def client(
    port: int,
    key: str,
    bodies: list[bytes],
    number: int,
    load: Load,
    stop: threading.Event,
    requests_per_second: float | None = None,
) -> None:
    """Send bodies until ``stop``: back to back, or at ``requests_per_second`` (this thread's
    share of a steady rate; a slow answer is not made up for by a burst)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "X-API-Key": key}
    interval = 1 / requests_per_second if requests_per_second else 0.0
    next_at = time.perf_counter()
    sent = 0
    while not stop.is_set():
        if interval:
            next_at += interval
            pause = next_at - time.perf_counter()
            if pause > 0:
                stop.wait(pause)
            else:
                next_at = time.perf_counter()
        stamp = f"{number:04x}{sent:012x}".encode()
        body = bodies[sent % len(bodies)].replace(PLACEHOLDER, stamp)
        sent += 1
        started = time.perf_counter()
        try:
            connection.request("POST", URL, body, headers)
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with load.lock:
                load.failures += 1
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        with load.lock:
            load.requests += 1
            load.latencies_ms.append(elapsed_ms)
            if response.status == 202:
                # A server that does not count events (bench_api's bare one) says none.
                load.accepted += int(json.loads(answer).get("accepted", 0))
            else:
                load.failures += 1
                load.statuses[response.status] = load.statuses.get(response.status, 0) + 1
    connection.close()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def written_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/io") as io:
        for line in io:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def landed(state_url: str) -> int:
    """Events the consumer has landed, by the job records."""
    state = open_state(state_url)
    try:
        return int(state.metrics()["events_landed"])
    finally:
        state.close()


@dataclass(frozen=True)
class Services:
    """`eventlake serve` and `eventlake consume`, running on one throwaway home."""

    home: Path
    port: int
    key: str
    env: dict[str, str]
    api: subprocess.Popen[bytes]
    consumer: subprocess.Popen[bytes]

    @property
    def state_url(self) -> str:
        return Settings(home=self.home).state_database_url


@contextlib.contextmanager
def api_service(home: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, str, dict[str, str]]]:
    """`eventlake serve` (one worker) as users run it, on ``home`` and a free port, with a key
    made for the run: (process, port, key, environment), ready once it answers. Stopped
    (SIGTERM) on the way out. One that does not start: ServiceError."""
    key, port = secrets.token_urlsafe(24), free_port()
    env = {**os.environ, "EVENTLAKE_HOME": str(home), "EVENTLAKE_API_KEYS": f"load:{key}"}
    api = subprocess.Popen(
        [str(BIN / "eventlake"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_api(f"http://127.0.0.1:{port}", api, timeout=90)
        yield api, port, key, env
    finally:
        api.terminate()
        api.wait(timeout=60)


@contextlib.contextmanager
def services(home: Path) -> Iterator[Services]:
    """The API (one worker, :func:`api_service`) and a consumer as users run them, on
    ``home``; ready once the API answers and the consumer holds its shards. Both are stopped
    (SIGTERM) on the way out. A service that does not start: SystemExit."""
    try:
        with api_service(home) as (api, port, key, env):
            consumer = subprocess.Popen(
                [str(BIN / "eventlake"), "consume", "--dataset", "events"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                running = Services(home, port, key, env, api, consumer)
                wait_until_leased(consumer, running.state_url)
                yield running
            finally:
                # The consumer first, as before: it stops reading before the API goes.
                consumer.terminate()
                consumer.wait(timeout=60)
    except ServiceError as error:
        raise SystemExit(str(error)) from None


def wait_until_leased(consumer: subprocess.Popen[bytes], state_url: str) -> None:
    """Until the consumer holds the events stream's shards (it joined the group)."""
    state = open_state(state_url)
    try:
        deadline = time.monotonic() + 90
        while not any(
            lease.owner for lease in state.leases("eventlake.events", "eventlake-events").values()
        ):
            if consumer.poll() is not None or time.monotonic() > deadline:
                raise ServiceError("the consumer did not join the group")
            time.sleep(0.2)
    finally:
        state.close()
