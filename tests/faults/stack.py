"""A running API and consumer for the fault tests: the app in-process (TestClient), the
consumer as a thread, and what a user would look at: the acknowledged ids, the lake's rows,
/health and /metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyiceberg.exceptions import NoSuchTableError

from eventlake.api.auth import local_api_key
from eventlake.config import ConsumerSettings, Settings
from eventlake.consumer import consume
from eventlake.lake import Lake
from tests.faults.proxy import FaultProxy

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient", category=Warning)
from fastapi.testclient import TestClient  # noqa: E402

from eventlake.api.app import create_app  # noqa: E402

DEADLINE_S = 60.0
# Short batches, leases and retry pauses: the faults last seconds, not minutes.
CONSUMER = ConsumerSettings(
    max_batch_seconds=0.2,
    poll_seconds=0.05,
    lease_seconds=5,
    lease_renew_seconds=0.5,
    retry_seconds=0.2,
    retry_max_seconds=1.0,
)


def event(event_id: str, day: str = "2026-11-20") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_id": f"u{int(event_id[1:]) % 7}",
        "event_type": "page_view",
        "event_timestamp": f"{day}T10:00:00Z",
    }


@dataclass
class Stack:
    """The API (in-process, through TestClient) and a consumer thread on ``settings``;
    ``lake`` reads the table (on AWS: straight from moto, past the proxy)."""

    settings: Settings
    api: TestClient
    key: str
    lake: Lake
    proxy: FaultProxy | None
    stop: threading.Event
    consumer: threading.Thread

    def send(self, first: int, count: int, *, day: str = "2026-11-20") -> set[str]:
        """``count`` events in one request, retried (same Idempotency-Key) while the API
        answers 503, as a client would: the ids the API acknowledged."""
        ids = [f"e{i:05d}" for i in range(first, first + count)]
        body = [event(event_id, day) for event_id in ids]
        headers = {"X-API-Key": self.key, "Idempotency-Key": f"k-{first}-{count}"}
        deadline = time.monotonic() + DEADLINE_S
        while True:
            answer = self.api.post("/api/v1/ingest", json=body, headers=headers)
            if answer.status_code != 503:
                break
            assert "Retry-After" in answer.headers
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == count
        return set(ids)

    def landed(self) -> list[str]:
        try:
            table = self.lake.table("events")
        except NoSuchTableError:  # the consumer has not created it yet
            return []
        return list(table.scan(selected_fields=("event_id",)).to_arrow()["event_id"].to_pylist())

    def wait_landed(self, expected: set[str]) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not expected <= set(self.landed()):
            assert self.consumer.is_alive(), "the consumer stopped"
            assert time.monotonic() < deadline, f"{len(expected - set(self.landed()))} missing"
            time.sleep(0.3)

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert self.consumer.is_alive(), "the consumer stopped"
            assert time.monotonic() < deadline, f"waited {DEADLINE_S:g} s for {what}"
            time.sleep(0.2)

    def failing(self) -> list[dict[str, Any]]:
        """The consumers /health says are failing."""
        return list(self.api.get("/api/v1/health").json()["consumers_failing"])

    def scraped_failing(self) -> dict[str, float]:
        """eventlake_consumer_failed_batches by consumer, from /metrics."""
        found = {}
        for line in self.api.get("/metrics").text.splitlines():
            if line.startswith("eventlake_consumer_failed_batches{"):
                labels, value = line.rsplit(" ", 1)
                found[labels.split('consumer="')[1].split('"')[0]] = float(value)
        return found


@contextmanager
def running(settings: Settings, lake: Lake, proxy: FaultProxy | None = None) -> Iterator[Stack]:
    """The API and a consumer thread on ``settings``, with a first request landed."""
    if proxy is not None:
        proxy.clear()
    api = TestClient(create_app(settings))
    api.__enter__()
    stop = threading.Event()
    consumer = threading.Thread(
        target=consume, args=(settings,), kwargs={"datasets": ["events"], "stop": stop}
    )
    stack = Stack(settings, api, local_api_key(settings), lake, proxy, stop, consumer)
    try:
        first = stack.send(0, 10)  # creates the stream (through the API) before the consumer
        consumer.start()
        stack.wait_landed(first)
        yield stack
    finally:
        if proxy is not None:
            proxy.clear()
        stop.set()
        consumer.join(timeout=30)
        api.__exit__(None, None, None)


def exactly_once(stack: Stack, acknowledged: set[str]) -> None:
    landed = stack.landed()
    assert len(landed) == len(set(landed)), "an event landed twice"
    assert set(landed) == acknowledged


# --- consumers as processes (eventlake consume) ---------------------------------------------


@contextmanager
def consumer_process(
    settings: Settings,
    log: Path,
    launcher: Sequence[str] = ("-m", "eventlake.cli"),
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``eventlake consume --dataset events`` as a process of its own on ``settings`` (through
    ``launcher``: python's arguments before the command's; ``env``: more settings), its stderr
    in ``log``; stopped with SIGTERM at the end, which it must survive cleanly (exit 0, no
    traceback)."""
    extra = env or {}
    env = {
        **os.environ,
        "EVENTLAKE_HOME": str(settings.home),
        "EVENTLAKE_CONSUMER__MAX_BATCH_SECONDS": "0.2",
        "EVENTLAKE_CONSUMER__POLL_SECONDS": "0.05",
        "EVENTLAKE_CONSUMER__RETRY_SECONDS": "0.2",
        "EVENTLAKE_CONSUMER__RETRY_MAX_SECONDS": "1",
        # Its writes give up on a lock after half a second (30 s by default): the lock below
        # outlasts several attempts.
        "EVENTLAKE_CONSUMER__STATE_BUSY_TIMEOUT_SECONDS": "0.5",
    }
    if settings.state_url:
        env["EVENTLAKE_STATE_URL"] = settings.state_url
    env.update(extra)
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, *launcher, "consume", "--dataset", "events"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=60)
    assert returncode == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def wait_until_alive(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert process.poll() is None, f"the consumer exited while waiting for {what}"
        assert time.monotonic() < deadline, f"waited {DEADLINE_S:g} s for {what}"
        time.sleep(0.2)


def landed_ids(lake: Lake) -> list[str]:
    try:
        table = lake.table("events")
    except NoSuchTableError:
        return []
    return list(table.scan(selected_fields=("event_id",)).to_arrow()["event_id"].to_pylist())


def send_events(api: TestClient, key: str, first: int, count: int) -> set[str]:
    ids = [f"e{i:05d}" for i in range(first, first + count)]
    answer = api.post("/api/v1/ingest", json=[event(i) for i in ids], headers={"X-API-Key": key})
    assert answer.status_code == 202, answer.text
    return set(ids)


def lands_once(lake: Lake, sent: set[str], process: subprocess.Popen[bytes]) -> None:
    wait_until_alive(lambda: sent <= set(landed_ids(lake)), "every event to land", process)
    landed = landed_ids(lake)
    assert len(landed) == len(set(landed)), "an event landed twice"
    assert set(landed) == sent
