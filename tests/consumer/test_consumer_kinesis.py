"""The consumer on Kinesis, against a moto server over real HTTP (boto3's wire protocol):
shards read from the lake's watermark, after a reshard parents drained before children, and
two consumers sharing the shards by lease."""

from __future__ import annotations

import json
import threading
import time
import uuid

import boto3

from eventlake.config import Settings
from eventlake.consumer import consume, drain, position_key
from eventlake.lake import Lake
from eventlake.state import open_state
from eventlake.stream import envelope, open_stream
from eventlake.stream.base import OutgoingRecord
from tests.aws import REGION, AwsEnv

NOW_US = 1_795_000_000_000_000


def _settings(aws_env: AwsEnv, tmp_path_factory) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        home=tmp_path_factory.mktemp("home"),
        stream={
            "name_prefix": f"t{uuid.uuid4().hex[:10]}",
            "backend": {
                "kind": "kinesis",
                "region": REGION,
                "endpoint_url": aws_env.endpoint_url,
                "shards": 2,
            },
        },
    )


def _publish(settings: Settings, first: int, requests: int) -> None:
    stream = open_stream(settings, "events")
    records = []
    for r in range(first, first + requests):
        body = "\n".join(
            json.dumps(
                {
                    "event_id": f"e{r}-{i}",
                    "user_id": f"u{r}",
                    "event_type": "page_view",
                    "event_timestamp": "2026-11-20T10:00:00Z",
                }
            )
            for i in range(10)
        ).encode()
        env = envelope.Envelope("events", f"job-{r}", "t", NOW_US, "ndjson")
        records.append(OutgoingRecord(f"job-{r}", envelope.encode(env, body)))
    stream.publish(records)


def _snapshot_keys(lake: Lake) -> list[set[str]]:
    out = []
    for snapshot in lake.table("events").snapshots():
        assert snapshot.summary is not None
        out.append(set(json.loads(snapshot.summary.additional_properties["eventlake.ranges"])))
    return out


def test_kinesis_stream_lands_every_event_once_across_a_reshard(
    aws_env: AwsEnv,
    tmp_path_factory,  # type: ignore[no-untyped-def]
) -> None:
    settings = _settings(aws_env, tmp_path_factory)
    stream = open_stream(settings, "events")
    stream.ensure()
    _publish(settings, 0, 30)
    first = drain(settings, datasets=["events"])
    assert first.datasets["events"].landed == 300

    # Reshard: split one shard; new records go to its children. Then publish to the parent's
    # replacement and drain: the parent's tail (nothing new) is done before its children.
    _publish(settings, 30, 20)  # these sit in the parents until drained
    client = boto3.client("kinesis", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    name = stream.name
    shard = client.list_shards(StreamName=name)["Shards"][0]
    low = int(shard["HashKeyRange"]["StartingHashKey"])
    high = int(shard["HashKeyRange"]["EndingHashKey"])
    client.split_shard(
        StreamName=name,
        ShardToSplit=shard["ShardId"],
        NewStartingHashKey=str((low + high) // 2),
    )
    _publish(settings, 50, 30)
    drain(settings, datasets=["events"])

    lake = Lake(settings)
    ids = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    assert len(ids) == len(set(ids.to_pylist())) == 800
    children = [
        s.shard_id
        for s in open_stream(settings, "events").shards()
        if shard["ShardId"] in s.parent_shard_ids
    ]
    assert len(children) == 2
    # The records published after the split are in the children (moto's server routes as
    # Kinesis does: tests/moto_server.py); parents before children across consumers that come
    # and go: test_consumer_kinesis_scaleout.py.
    marks = lake.watermark("events")
    assert position_key(name, shard["ShardId"]) in marks
    # A rerun finds nothing new: the watermark covers the closed parent and the children.
    again = drain(settings, datasets=["events"])
    assert again.datasets["events"].landed == 0


def test_two_consumers_share_a_kinesis_stream_by_lease(
    aws_env: AwsEnv,
    tmp_path_factory,  # type: ignore[no-untyped-def]
) -> None:
    """Two consumers on a 2-shard Kinesis stream: one shard each, every event once."""
    settings = _settings(aws_env, tmp_path_factory)
    settings.consumer.lease_seconds = 1.0
    settings.consumer.lease_renew_seconds = 0.1
    settings.consumer.max_batch_seconds = 0.1
    stream = open_stream(settings, "events")
    stream.ensure()
    state = open_state(settings.state_database_url)
    stops = [threading.Event(), threading.Event()]
    threads = [
        threading.Thread(
            target=consume, args=(settings,), kwargs={"datasets": ["events"], "stop": s}
        )
        for s in stops
    ]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            owners = [
                lease.owner for lease in state.leases("eventlake.events", stream.name).values()
            ]
            if len(owners) == 2 and None not in owners and len(set(owners)) == 2:
                break  # one shard each
            assert time.monotonic() < deadline, owners
            time.sleep(0.1)
        _publish(settings, 0, 30)
        lake = Lake(settings)
        while lake.table("events").scan().to_arrow().num_rows < 300:
            assert time.monotonic() < deadline + 60
            time.sleep(0.2)
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(timeout=60)
        state.close()
    ids = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    assert len(ids) == len(set(ids.to_pylist())) == 300
