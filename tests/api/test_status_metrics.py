"""Job status and metrics, JSON and Prometheus."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from eventlake.state import CommitRecord, JobProgress, ShardProgress, StateStore
from eventlake.stream import OutgoingRecord, PublishedRecord, StreamError
from tests.api.conftest import event

URL = "/api/v1/ingest?dataset=events"


def ingest(client: TestClient, auth: dict[str, str], records: list[dict[str, object]]) -> str:
    answer = client.post(
        URL,
        content=json.dumps(records).encode(),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["job_id"]
    return job_id


def state_of(client: TestClient) -> StateStore:
    return client.app.state.services.state()  # type: ignore[attr-defined, no-any-return]


def test_an_unknown_job_is_404(client: TestClient, auth: dict[str, str]) -> None:
    answer = client.get("/api/v1/status/nope", headers=auth)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("job_id", ["a" * 65, "a.b", "a%20b", "%2E%2E"])
def test_a_malformed_job_id_is_422(client: TestClient, auth: dict[str, str], job_id: str) -> None:
    assert client.get(f"/api/v1/status/{job_id}", headers=auth).status_code == 422


def test_a_job_goes_from_published_to_committed(client: TestClient, auth: dict[str, str]) -> None:
    job_id = ingest(client, auth, [event("a"), event("b"), event("c", event_type="nope")])

    job = client.get(f"/api/v1/status/{job_id}", headers=auth).json()
    assert (job["kind"], job["name"], job["status"], job["source"]) == (
        "ingest",
        "events",
        "published",
        "local",
    )
    assert [s["stage"] for s in job["stages"]] == ["accepted", "published"]
    accepted, published = job["stages"]
    assert accepted["detail"] == {"received": 3, "accepted": 2, "rejected": 1}
    assert published["detail"]["stream"] == "eventlake-events"
    assert published["detail"]["shard_id"]
    assert published["detail"]["sequence_number"]
    assert published["at"] >= accepted["at"]

    # What the consumer records once the batch is in the lake.
    state_of(client).record_processed([JobProgress(job_id, 2, 1, 0, snapshot_id=1234)])
    job = client.get(f"/api/v1/status/{job_id}", headers=auth).json()
    assert job["status"] == "committed"
    assert [s["stage"] for s in job["stages"]] == [
        "accepted",
        "published",
        "processed",
        "committed",
    ]
    assert job["stages"][2]["detail"] == {"landed": 2, "dead_lettered": 1, "duplicates": 0}
    assert job["stages"][3]["detail"] == {"snapshot_id": "1234"}
    assert (job["landed"], job["dead_lettered"], job["duplicates"]) == (2, 1, 0)


def test_a_fast_consumer_is_not_overwritten(
    client: TestClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job exists before the record is published, and publishing moves it on only from
    'accepted': a consumer that commits the record before the API records where it went
    keeps its 'committed'."""
    stream = client.app.state.services.streams.get("events")  # type: ignore[attr-defined]
    publish_each = stream.publish_each

    def publish_then_commit(
        batches: list[list[OutgoingRecord]],
    ) -> list[list[PublishedRecord] | StreamError]:
        out: list[list[PublishedRecord] | StreamError] = publish_each(batches)
        for records in batches:
            job_id = records[0].partition_key
            state_of(client).record_processed([JobProgress(job_id, 1, 0, 0, snapshot_id=7)])
        return out

    monkeypatch.setattr(stream, "publish_each", publish_then_commit)
    job_id = ingest(client, auth, [event("a")])
    job = client.get(f"/api/v1/status/{job_id}", headers=auth).json()
    assert job["status"] == "committed"
    assert [s["stage"] for s in job["stages"]] == [
        "accepted",
        "published",
        "processed",
        "committed",
    ]


def test_metrics_json(client: TestClient, auth: dict[str, str]) -> None:
    ingest(client, auth, [event("a"), event("b", event_type="nope")])
    ingest(client, auth, [event("c")])

    metrics = client.get("/api/v1/metrics", headers=auth).json()
    assert (metrics["jobs"], metrics["events_received"], metrics["events_accepted"]) == (2, 3, 2)
    assert metrics["events_rejected"] == 1
    assert metrics["accepted_per_second"] > 0
    assert metrics["uptime_seconds"] >= 0
    assert metrics["version"]


def test_prometheus_metrics_parse(client: TestClient, auth: dict[str, str]) -> None:
    ingest(client, auth, [event("a"), event("b"), event("c", event_type="nope")])
    state = state_of(client)
    state.record_shards(
        [
            ShardProgress("eventlake-events", "shard-0000", "c0", position=5, behind=12),
            ShardProgress("eventlake-events", "shard-0001", "c0", position=None, behind=None),
        ]
    )
    state.record_commit(CommitRecord("events", 99, rows=2, dead_lettered=1, duplicates=0))

    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    value = {f: families[f].samples[0].value for f in families if families[f].samples}
    assert value["eventlake_state_up"] == 1
    assert families["eventlake_events_received"].type == "counter"
    assert value["eventlake_events_received"] == 3
    assert value["eventlake_events_accepted"] == 2
    assert value["eventlake_events_rejected"] == 1
    [lag] = families["eventlake_consumer_lag"].samples
    assert lag.labels == {"stream": "eventlake-events", "shard_id": "shard-0000", "consumer": "c0"}
    assert lag.value == 12
    [commit] = families["eventlake_last_commit_timestamp_seconds"].samples
    assert commit.labels == {"table": "events"}
    assert commit.value > 1.7e9
    assert "process_cpu_seconds" in families  # the process collector is there too
