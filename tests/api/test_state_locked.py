"""The SQLite job database locked by another process (a write transaction held: a long
migration, a backup, a lock taken by hand) under the real server: a request that needs to
write answers 503 with Retry-After after ``api.state_busy_timeout_seconds`` (2 s), not after
SQLite's 30 s busy timeout, and publishes nothing; the client's retry with the same
Idempotency-Key is taken once the lock is gone, and published once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from eventlake.api.auth import local_api_key
from eventlake.config import Settings
from tests.api.conftest import event
from tests.api.test_ingest import Published

# The holder gives the lock back on its own after this long: less than SQLite's default busy
# timeout, so a request that waited that long would be taken, not refused.
HOLD_AT_MOST_S = 25.0
HOLDER = """
import select, sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))
connection.execute("COMMIT")
"""


@contextmanager
def locked(database: str, at_most: float = HOLD_AT_MOST_S) -> Iterator[subprocess.Popen[str]]:
    """Another process holding a write transaction on ``database`` until the block ends, or
    for ``at_most`` seconds."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database, str(at_most)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)


def test_a_locked_job_database_is_a_quick_503_and_the_retry_is_taken_once(
    serve: Callable[[Settings], httpx.Client], settings: Settings, published: Published
) -> None:
    client = serve(settings)
    body = json.dumps([event(f"locked-{i}") for i in range(3)]).encode()
    headers = {
        "X-API-Key": local_api_key(settings),
        "Content-Type": "application/json",
        "Idempotency-Key": "while-locked",
    }
    assert client.get("/api/v1/health").status_code == 200  # the database is there
    with locked(settings.state_database_url.removeprefix("sqlite:///")) as holder:
        refused = client.post("/api/v1/ingest", content=body, headers=headers)
        # Answered while the lock is still held: well before SQLite's own 30 s.
        assert holder.poll() is None, "the request waited for the lock to go"
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "state_unavailable"
        assert int(refused.headers["Retry-After"]) >= 1
        assert published() == []
        # Readers are not held up (WAL): health still answers, the job database is readable.
        assert client.get("/api/v1/health").json()["checks"]["state"]["ok"]
        # Every route that writes says the same: a run cannot be queued either.
        run = client.post("/api/v1/trigger/process", headers={"X-API-Key": headers["X-API-Key"]})
        assert run.status_code == 503, run.text
        assert run.json()["error"]["code"] == "state_unavailable"
        assert int(run.headers["Retry-After"]) >= 1

    taken = client.post("/api/v1/ingest", content=body, headers=headers)
    assert taken.status_code == 202, taken.text
    assert taken.json()["accepted"] == 3
    again = client.post("/api/v1/ingest", content=body, headers=headers)
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["job_id"] == taken.json()["job_id"]
    # Published once: the one job's parts (one per shard owning some of its events).
    records = published()
    assert {envelope.job_id for envelope, _ in records} == {taken.json()["job_id"]}
    assert sum(data.count(b'"event_id"') for _, data in records) == 3


def test_the_wait_is_configurable(
    serve: Callable[[Settings], httpx.Client], settings: Settings
) -> None:
    patient = settings.model_copy(
        update={"api": settings.api.model_copy(update={"state_busy_timeout_seconds": 60})}
    )
    client = serve(patient)
    headers = {"X-API-Key": local_api_key(settings), "Idempotency-Key": "patient"}
    with locked(settings.state_database_url.removeprefix("sqlite:///"), at_most=4) as holder:
        # The holder lets go after 4 s; a request that may wait 60 s is then taken.
        taken = client.post(
            "/api/v1/ingest", json=[event("patient-1")], headers=headers, timeout=90
        )
        assert holder.poll() is not None, "answered before the lock went"
    assert taken.status_code == 202, taken.text
