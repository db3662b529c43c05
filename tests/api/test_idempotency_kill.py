"""Issue 18, "Faults", first bullet, as a user sees it: `eventlake serve` killed with -9 while
four clients send batches with Idempotency-Keys, started again, and every unanswered request
retried with its key. Every retry is answered 202 within seconds of the restart (the dead
process's claims lapse after their short lease, not after 10 minutes), and after the consumer
drains, every accepted event is in the lake exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from eventlake.config import get_settings
from eventlake.consumer import drain
from eventlake.lake import Lake
from eventlake.pipeline.supervisor import wait_for_api
from tests.ports import free_port

pytestmark = pytest.mark.slow

EVENTLAKE = [sys.executable, "-m", "eventlake.cli"]
KEY = "kill-test-secret-key-0123456789"
LEASE_S = 5.0  # the API's claim lease here (10 s by default): longer than a restart takes
CLIENTS = 4
BATCHES = 8  # per client at most: the kill comes before they are all sent
EVENTS = 300  # per batch


def _body(key: str) -> bytes:
    return json.dumps(
        [
            {
                "event_id": f"{key}-{i}",
                "user_id": f"u{i % 17}",
                "event_type": "page_view",
                "event_timestamp": "2026-11-01T12:00:00Z",
            }
            for i in range(EVENTS)
        ]
    ).encode()


class Api:
    """`eventlake serve` as a process on one port, started again after a kill."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "api.log"
        self.env = {
            **os.environ,
            "EVENTLAKE_HOME": str(get_settings().home),
            "EVENTLAKE_API_KEYS": f"t:{KEY}",
            "EVENTLAKE_API__IDEMPOTENCY_LEASE_SECONDS": str(LEASE_S),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*EVENTLAKE, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_api(self.url, self.process, timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    server = Api(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _post(client: httpx.Client, key: str, body: bytes) -> httpx.Response:
    return client.post(
        "/api/v1/ingest",
        content=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


@pytest.fixture
def pending_claims(api: Api) -> Iterator[Callable[[], int]]:
    """How many claims are unanswered (one engine, so that a poll takes a millisecond and the
    kill lands while the request it saw is still in flight)."""
    engine = sa.create_engine(get_settings().state_database_url)
    query = sa.text("SELECT count(*) FROM idempotency_keys WHERE status_code IS NULL")

    def count() -> int:
        with engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    yield count
    engine.dispose()


def test_requests_left_unanswered_by_a_killed_api_succeed_on_retry_within_seconds(
    api: Api, pending_claims: Callable[[], int]
) -> None:
    began = time.monotonic()
    answers: dict[str, int] = {}  # key -> events accepted, once answered 202
    unanswered: dict[str, bytes] = {}  # key -> body: sent, no answer (the API died)
    lock = threading.Lock()

    def send(keys: list[str], killed: threading.Event) -> None:
        with httpx.Client(base_url=api.url, headers={"X-API-Key": KEY}, timeout=30) as client:
            for key in keys:
                body = _body(key)
                try:
                    answer = _post(client, key, body)
                except httpx.TransportError:
                    with lock:
                        unanswered[key] = body
                    return  # the API is gone: this client waits for it
                assert answer.status_code == 202, answer.text
                with lock:
                    answers[key] = answer.json()["accepted"]
                if killed.is_set():
                    return

    def load_and_kill(round: int) -> bool:
        """Clients sending, kill -9 at a moment a request holds its claim (claimed, not
        answered); whether a dead claim is left (the request may finish in the instant
        between the look and the kill: then again)."""
        killed = threading.Event()
        clients = [
            threading.Thread(
                target=send, args=([f"r{round}-c{c}-b{b}" for b in range(BATCHES)], killed)
            )
            for c in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        answered_before = len(answers)
        deadline = time.monotonic() + 20
        while not (len(answers) >= answered_before + CLIENTS and pending_claims() > 0):
            assert time.monotonic() < deadline, "no request in flight to kill"
            time.sleep(0.01)
        api.kill()
        killed.set()
        for thread in clients:
            thread.join(timeout=30)
        return pending_claims() > 0

    rounds = 0
    for round in range(5):
        rounds += 1
        if load_and_kill(round):
            break  # a dead process's claim: what used to block retries for 10 minutes
        api.start()
    else:
        pytest.fail("no kill left a claim in flight")
    assert unanswered, "every request was answered before the kill"

    api.start()
    restarted = time.monotonic()
    conflicts = 0
    waits: dict[str, float] = {}
    with httpx.Client(base_url=api.url, headers={"X-API-Key": KEY}, timeout=30) as client:
        for key, body in unanswered.items():
            while True:
                answer = _post(client, key, body)
                if answer.status_code != 409:
                    break
                conflicts += 1
                assert time.monotonic() - restarted < 30, f"{key}: still 409 after 30 s"
                time.sleep(0.2)
            assert answer.status_code == 202, answer.text
            answers[key] = answer.json()["accepted"]
            waits[key] = time.monotonic() - restarted
    # Within a lease (and a loaded machine's slack) of the restart, not 10 minutes.
    assert max(waits.values()) < LEASE_S + 8, waits

    settings = get_settings()
    drain(settings, datasets=["events"])
    table = Lake(settings).table("events").scan(selected_fields=("event_id",)).to_arrow()
    ids = table.column("event_id").to_pylist()
    expected = {f"{key}-{i}" for key in answers for i in range(EVENTS)}
    assert sum(answers.values()) == len(expected)
    assert len(ids) == len(set(ids)), "an event landed twice"
    assert set(ids) == expected
    print(
        f"{len(answers)} batches accepted, {len(unanswered)} retried after the kill "
        f"(kills: {rounds}) "
        f"({conflicts} answers 409 first), last answered {max(waits.values()):.1f} s after "
        f"the restart; {len(ids)} events landed once; {time.monotonic() - began:.1f} s"
    )
