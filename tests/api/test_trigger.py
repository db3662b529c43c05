"""POST /api/v1/trigger/{pipeline}: runs in the background, followed on /status."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eventlake.config import Settings
from eventlake.pipeline import runs
from eventlake.pipeline.pipelines import Pipeline, Step
from tests.api.conftest import event


def wait_for_run(client: TestClient, auth: dict[str, str], url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(url, headers=auth).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"the run did not finish: {job}")


@pytest.mark.parametrize(
    "path",
    [
        "nope",
        "PROCESS",
        "..%2F..%2Fetc",
        "process%2F..%2Fx",
        "process/../x",
        "process/x",
        "%00",
        "a" * 5000,
        "process%20",
    ],
)
def test_unknown_pipelines_and_path_tricks_are_4xx(
    client: TestClient, auth: dict[str, str], path: str
) -> None:
    answer = client.post(f"/api/v1/trigger/{path}", headers=auth)
    assert answer.status_code in (404, 405, 422), answer.text
    assert "error" in answer.json()


def test_an_unknown_pipeline_is_404(client: TestClient, auth: dict[str, str]) -> None:
    answer = client.post("/api/v1/trigger/nope", headers=auth)
    assert answer.status_code == 404
    assert "process" in answer.json()["error"]["message"]


def test_a_run_goes_queued_running_succeeded(
    client: TestClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def count(settings: Settings) -> Mapping[str, Any]:
        return {"home": str(settings.home), "counted": 3}

    monkeypatch.setitem(runs.PIPELINES, "count", Pipeline("count", (Step(count),)))
    answer = client.post("/api/v1/trigger/count", headers=auth)

    assert answer.status_code == 202
    started = answer.json()
    assert (started["pipeline"], started["status"]) == ("count", "queued")
    assert started["status_url"] == f"/api/v1/status/{started['run_id']}"
    job = wait_for_run(client, auth, started["status_url"])
    assert (job["kind"], job["name"], job["status"]) == ("run", "count", "succeeded")
    assert job["result"]["counted"] == 3
    assert [s["stage"] for s in job["stages"]] == ["queued", "running", "succeeded"]


def test_a_failed_run_says_why(
    client: TestClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(settings: Settings) -> Mapping[str, Any]:
        raise RuntimeError("the lake is on fire")

    monkeypatch.setitem(runs.PIPELINES, "broken", Pipeline("broken", (Step(broken),)))
    answer = client.post("/api/v1/trigger/broken", headers=auth)
    job = wait_for_run(client, auth, answer.json()["status_url"])
    assert job["status"] == "failed"
    assert job["error"] == "RuntimeError: the lake is on fire"
    assert [s["stage"] for s in job["stages"]] == ["queued", "running", "failed"]


def test_process_drains_the_stream_into_the_lake(client: TestClient, auth: dict[str, str]) -> None:
    """End to end: ingest, trigger 'process', the job is committed with its counts."""
    body = json.dumps([event("a"), event("b"), event("a"), event("c", event_type="nope")])
    ingested = client.post(
        "/api/v1/ingest?dataset=events",
        content=body.encode(),
        headers={**auth, "Content-Type": "application/json"},
    ).json()

    run = client.post("/api/v1/trigger/process", headers=auth).json()
    job = wait_for_run(client, auth, run["status_url"])
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["datasets"]["events"]["landed"] == 2

    status = client.get(ingested["status_url"], headers=auth).json()
    assert status["status"] == "committed"
    assert (status["landed"], status["dead_lettered"], status["duplicates"]) == (2, 1, 1)


def test_the_api_docs_describe_every_pipeline(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/trigger/{pipeline}"]["post"]
    for name in runs.PIPELINES:
        assert f"``{name}``:" in operation["description"], name
