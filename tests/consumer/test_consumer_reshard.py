"""Parents before children after a reshard.

The embedded log never reshards; Kinesis on the moto server does (with Kinesis's semantics:
tests/moto_server.py, used by test_consumer_kinesis_scaleout.py), but over processes and HTTP.
This test pins the order of reads in-process: the consumer gets a small in-memory stream with
Kinesis's reshard semantics (a closed parent, two children, reads that report the end of a
closed shard), and everything else real: the Rust core, the lake, the state database.
"""

from __future__ import annotations

import json

from eventlake.config import Settings
from eventlake.consumer import consume, position_key
from eventlake.lake import Lake
from eventlake.state import open_state
from eventlake.stream import envelope
from tests.consumer.split_stream import SplitStream


def _record(job: str, event_ids: list[str]) -> bytes:
    body = "\n".join(
        json.dumps(
            {
                "event_id": e,
                "user_id": "u1",
                "event_type": "login",
                "event_timestamp": "2026-11-20T10:00:00Z",
            }
        )
        for e in event_ids
    ).encode()
    return envelope.encode(envelope.Envelope("events", job, "t", 1, "ndjson"), body)


def test_children_are_read_only_after_their_parent_is_read_to_its_end(
    tmp_path_factory,  # type: ignore[no-untyped-def]
    monkeypatch,
) -> None:
    settings = Settings(home=tmp_path_factory.mktemp("home"))
    settings.consumer.read_limit = 2  # the parent takes several reads
    stream = SplitStream(
        {
            "parent": [_record(f"p{i}", [f"p{i}"]) for i in range(5)],
            "child-a": [_record("a0", ["a0"]), _record("a1", ["p0"])],  # p0 again: a duplicate
            "child-b": [_record("b0", ["b0"])],
        },
        hash_ranges=False,
    )
    lake = Lake(settings)
    state = open_state(settings.state_database_url)

    monkeypatch.setattr(
        "eventlake.consumer.consumer.open_stream", lambda _settings, _dataset: stream
    )
    report = consume(
        settings,
        datasets=["events"],
        until_caught_up=True,
        lake=lake,
        state=state,
    )

    first_child = min(i for i, shard in enumerate(stream.reads) if shard != "parent")
    assert set(stream.reads[:first_child]) == {"parent"}
    assert "parent" not in stream.reads[first_child:]
    assert report.datasets["events"].landed == 7
    assert report.datasets["events"].duplicates == 1
    ids = lake.table("events").scan().to_arrow()["event_id"].to_pylist()
    assert sorted(ids) == sorted([f"p{i}" for i in range(5)] + ["a0", "b0"])
    marks = lake.watermark("events")
    assert marks[position_key(stream.name, "parent")] == 5
    assert marks[position_key(stream.name, "child-a")] == 2
