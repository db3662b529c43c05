"""Route events, not requests, through the real app: every copy of an event reaches the shard
that owns its key, whichever request carried it; a job tracks its parts; replays publish
nothing again; two consumers sharing the shards land a cross-request duplicate once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eventlake.api.auth import local_api_key
from eventlake.config import KinesisStreamSettings, Settings, StreamSettings, get_settings
from eventlake.consumer.consumer import DatasetConsumer
from eventlake.lake import Lake
from eventlake.stream import open_stream
from eventlake.stream.envelope import decode
from tests.api.conftest import event
from tests.aws import AwsEnv

URL = "/api/v1/ingest?dataset=events"


def post(client: TestClient, auth: dict[str, str], records: list[Any], **headers: str) -> Any:
    return client.post(
        URL,
        content=json.dumps(records).encode(),
        headers={**auth, "Content-Type": "application/json", **headers},
    )


def stream_records(settings: Settings) -> list[tuple[str, int, str, list[str]]]:
    """(shard, sequence number, job id, event ids) of every record in the events stream."""
    stream = open_stream(settings, "events")
    stream.ensure()
    out = []
    try:
        for shard in stream.shards():
            reader = stream.reader(shard.shard_id, None)
            while True:
                batch = reader.read(1000)
                for record in batch.records:
                    envelope, body = decode(record.data, max_body_bytes=1 << 30)
                    ids = [r["event_id"] for r in json.loads(body)]
                    out.append((shard.shard_id, record.sequence_number, envelope.job_id, ids))
                if batch.at_end or not batch.records:
                    break
    finally:
        stream.close()
    return out


def shard_of(records: list[tuple[str, int, str, list[str]]], event_id: str) -> set[str]:
    return {shard for shard, _, _, ids in records if event_id in ids}


def check_copies_share_a_shard(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    first = [event(f"a-{i}") for i in range(20)]
    second = [event(f"b-{i}") for i in range(20)] + first[::3]  # a client re-sent some
    for records in (first, second):
        assert post(client, auth, records).status_code == 202
    published = stream_records(settings)
    assert len({shard for shard, *_ in published}) == 4  # each request spread over the shards
    assert len(published) <= 8  # at most one record per shard per request
    for copy in first[::3]:
        assert len(shard_of(published, copy["event_id"])) == 1  # both copies, one shard
        copies = [ids.count(copy["event_id"]) for _, _, _, ids in published]
        assert sum(copies) == 2


def test_copies_of_an_event_in_two_requests_reach_one_shard(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    check_copies_share_a_shard(client, auth, settings)


def test_copies_of_an_event_in_two_requests_reach_one_shard_on_kinesis(
    aws_env: AwsEnv, make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same on Kinesis (moto's server): ExplicitHashKey picks the shard, ListShards says
    the ranges."""
    backend = KinesisStreamSettings(
        kind="kinesis", region=aws_env.region, endpoint_url=aws_env.endpoint_url, shards=4
    )
    settings = get_settings().model_copy(
        update={"stream": StreamSettings(name_prefix=aws_env.database, backend=backend)}
    )
    client = make_client(settings)
    check_copies_share_a_shard(client, {"X-API-Key": local_api_key(settings)}, settings)


def test_status_shows_every_part(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    records = [event(f"s-{i}") for i in range(30)] + [event("bad", event_type="teleport")]
    answer = post(client, auth, records)
    assert answer.status_code == 202
    job_id = answer.json()["job_id"]
    job = client.get(f"/api/v1/status/{job_id}", headers=auth).json()

    published = sorted(
        (shard, str(seq)) for shard, seq, owner, _ in stream_records(settings) if owner == job_id
    )
    assert sorted((p["shard_id"], p["sequence_number"]) for p in job["parts"]) == published
    assert len(published) == 4
    assert sum(p["records"] for p in job["parts"]) == 31
    assert {p["status"] for p in job["parts"]} == {"published"}
    # The published stage keeps naming the first part (the body's first record's shard).
    where = job["stages"][1]["detail"]
    first = job["parts"][0]
    assert (where["shard_id"], where["sequence_number"]) == (
        first["shard_id"],
        first["sequence_number"],
    )


def test_an_idempotent_retry_publishes_no_part_again(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    records = [event(f"i-{i}") for i in range(30)]
    first = post(client, auth, records, **{"Idempotency-Key": "routing-1"})
    published = stream_records(settings)
    retry = post(client, auth, records, **{"Idempotency-Key": "routing-1"})
    assert first.status_code == retry.status_code == 202
    assert retry.json()["job_id"] == first.json()["job_id"]
    assert len(published) == 4
    assert stream_records(settings) == published


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "empty_body"),
        (b"[1, 2]", 422, "no_valid_records"),
        (b"[1, 2", 400, "truncated_body"),  # cut off: refused whole, nothing is a record
        (
            json.dumps([{"event_id": f"n-{i}"} for i in range(3000)]).encode(),
            422,
            "no_valid_records",
        ),
    ],
)
def test_odd_bodies_get_the_usual_answers(
    client: TestClient, auth: dict[str, str], body: bytes, status: int, code: str
) -> None:
    answer = client.post(URL, content=body, headers={**auth, "Content-Type": "application/json"})
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


def test_many_small_events_are_cut_without_loss(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    records: list[Any] = [event(f"m-{i}") for i in range(3000)]
    records[1234] = {"event_id": "broken"}
    answer = post(client, auth, records)
    assert (answer.status_code, answer.json()["accepted"]) == (202, 2999)
    ids = [i for *_, part in stream_records(settings) for i in part]
    assert sorted(ids) == sorted(r["event_id"] for r in records)


def test_two_consumers_land_a_cross_request_duplicate_once(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    """Two consumers share the four shards by lease; the same events sent in two requests
    reach one shard each, and whichever consumer owns it drops the second copy."""
    consumer = settings.consumer.model_copy(
        update={"lease_seconds": 5.0, "lease_renew_seconds": 0.05, "max_batch_seconds": 0.1}
    )
    settings = settings.model_copy(update={"consumer": consumer})
    lake = Lake(settings)
    state = client.app.state.services.state()  # type: ignore[attr-defined]
    consumers = [
        DatasetConsumer(settings, lake, state, "events", worker_id=f"worker-{n}") for n in (0, 1)
    ]
    try:
        deadline = time.monotonic() + 20
        while not all(len(c._leases.held) == 2 for c in consumers):  # fair shares: 2 each
            assert time.monotonic() < deadline, [sorted(c._leases.held) for c in consumers]
            for c in consumers:
                c.poll_batch(wait=False)
            time.sleep(0.05)

        first = [event(f"x-{i}") for i in range(40)]
        second = [event(f"y-{i}") for i in range(40)] + first  # every event of first again
        jobs = [post(client, auth, records).json()["job_id"] for records in (first, second)]

        landed: list[str] = []
        while len(landed) < 80:
            assert time.monotonic() < deadline, len(landed)
            for c in consumers:
                c.poll_batch(wait=False)
            table = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()
            landed = table["event_id"].to_pylist()
        for c in consumers:  # anything left is a copy: nothing more lands
            c.poll_batch(wait=False)
        table = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()
        assert sorted(table["event_id"].to_pylist()) == sorted(
            r["event_id"] for r in first + second[:40]
        )
        for job_id, duplicates in zip(jobs, (0, 40), strict=True):
            job = client.get(f"/api/v1/status/{job_id}", headers=auth).json()
            assert job["status"] == "committed"
            assert {p["status"] for p in job["parts"]} == {"committed"}
            assert (job["landed"], job["duplicates"]) == (40, duplicates)
    finally:
        for c in consumers:
            c.close()
