"""End to end over real HTTP: ``eventlake serve`` (uvicorn) on a loopback port, clients posting
JSON, NDJSON, CSV and gzip, the ``process`` pipeline triggered through the API, and then every
accepted event found exactly once in the Iceberg table, every rejection in the dead-letter
table, and each job's status complete."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eventlake.config import Settings
from eventlake.lake import DEAD_LETTER_TABLE, Lake
from eventlake.pipeline.supervisor import ServiceError, wait_for_api
from tests.ports import free_port

KEY = "e2e-secret-key-0123456789"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    port = free_port()
    env = {**os.environ, "EVENTLAKE_HOME": str(tmp_path), "EVENTLAKE_API_KEYS": f"e2e:{KEY}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "eventlake.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_api(url, server, timeout=60)
        except ServiceError as error:
            exited = server.poll() is not None and server.stdout is not None
            pytest.fail(f"{error}\n{server.stdout.read().decode() if exited else ''}")
        yield url, Settings(home=tmp_path)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
        assert KEY not in out.decode(), "the API key must never be logged"


def _event(event_id: str, event_type: str = "page_view", **extra: object) -> dict[str, object]:
    return {
        "event_id": event_id,
        "user_id": f"user-{event_id[-1]}",
        "event_type": event_type,
        "event_timestamp": "2026-11-20T10:00:00Z",
        "event_value": 12.5 if event_type == "purchase" else None,
        **extra,
    }


def test_posted_events_land_exactly_once_and_jobs_complete(api: tuple[str, Settings]) -> None:
    url, settings = api
    headers = {"X-API-Key": KEY}
    client = httpx.Client(base_url=url, headers=headers, timeout=30)

    batch = [_event(f"json-{i}") for i in range(200)] + [_event("bad-1", "teleport")]
    ndjson = "\n".join(json.dumps(_event(f"nd-{i}", "purchase")) for i in range(100))
    rows = io.StringIO()
    writer = csv.DictWriter(rows, ["event_id", "user_id", "event_type", "event_timestamp"])
    writer.writeheader()
    for i in range(50):
        writer.writerow({k: v for k, v in _event(f"csv-{i}").items() if k in writer.fieldnames})
    writer.writerow(
        {
            "event_id": "csv-bad",
            "user_id": "u",
            "event_type": "login",
            "event_timestamp": "yesterday",
        }
    )
    no_ids = [{k: v for k, v in _event("x").items() if k != "event_id"} for _ in range(5)]

    answers = [
        client.post("/api/v1/ingest", json=batch),
        client.post(
            "/api/v1/ingest?dataset=events",
            content=gzip.compress(ndjson.encode()),
            headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
        ),
        client.post(
            "/api/v1/ingest", content=rows.getvalue(), headers={"Content-Type": "text/csv"}
        ),
        client.post("/api/v1/ingest", json=no_ids),
        # A retry of the first batch with an idempotency key, twice: published once.
        client.post("/api/v1/ingest", json=batch[:10], headers={"Idempotency-Key": "k-1"}),
        client.post("/api/v1/ingest", json=batch[:10], headers={"Idempotency-Key": "k-1"}),
    ]
    assert [a.status_code for a in answers] == [202] * 6, [a.text[:300] for a in answers]
    bodies = [a.json() for a in answers]
    assert [(b["accepted"], b["rejected"]) for b in bodies] == [
        (200, 1),
        (100, 0),
        (50, 1),
        (5, 0),
        (10, 0),
        (10, 0),
    ]
    assert bodies[4]["job_id"] == bodies[5]["job_id"]
    assert (
        client.post("/api/v1/ingest", content=b"[]", headers={"X-API-Key": "wrong"}).status_code
        == 401
    )

    run = client.post("/api/v1/trigger/process")
    assert run.status_code == 202
    run_id = run.json()["run_id"]
    deadline = time.monotonic() + 120
    while (status := client.get(f"/api/v1/status/{run_id}").json())["status"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline, status
        time.sleep(0.25)
    assert status["status"] == "succeeded", status

    lake = Lake(settings)
    ids = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    ids = ids.to_pylist()
    # 200 + 100 + 50 + 5 generated ids; the idempotent retry's 10 are duplicates of json-0..9
    # published once, so dropped by the consumer's window: each id once.
    assert len(ids) == len(set(ids)) == 355
    assert sum(1 for i in ids if len(i) == 32) == 5  # generated uuid4 hex ids
    dead = lake.table(DEAD_LETTER_TABLE).scan().to_arrow()
    assert sorted(
        zip(dead["job_id"].to_pylist(), dead["reason"].to_pylist(), strict=True)
    ) == sorted([(bodies[0]["job_id"], "not_in_enum"), (bodies[2]["job_id"], "bad_timestamp")])
    for body, landed in zip(bodies[:5], (200, 100, 50, 5, 0), strict=True):
        job = client.get(f"/api/v1/status/{body['job_id']}").json()
        assert job["status"] == "committed", job
        assert json.dumps(job).count(str(landed)) >= 1

    metrics = client.get("/api/v1/metrics").json()
    assert metrics["events_landed"] == 355
    prometheus = httpx.get(f"{url}/metrics").text
    assert "eventlake_events_landed_total 355" in prometheus
