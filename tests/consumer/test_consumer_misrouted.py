"""Events that reach the wrong child after a split (an API routing by a stale shard map) are
forwarded to the shard that owns their keys, and land once even when a copy sent to the owner
got there first.

Neither stream that runs here reshards with hash ranges, so the consumer gets a small
in-memory stream with Kinesis's semantics after ``SplitShard`` (a closed parent, two children
owning the two halves of the hash key space, a publish that puts a record where its explicit
hash key goes); everything else is real: the Rust core, the lake, the state database.
"""

from __future__ import annotations

import json

import data_processor_rs
import pytest

from eventlake.config import Settings
from eventlake.consumer import consume
from eventlake.contracts import load_contract
from eventlake.lake import Lake
from eventlake.state import open_state
from eventlake.stream import envelope
from tests.consumer.split_stream import HALF, SplitStream


def _body(event_ids: list[str], *, bad: bool = False) -> bytes:
    lines = [
        {
            "event_id": e,
            "user_id": "u1",
            "event_type": "login",
            "event_timestamp": "2026-11-20T10:00:00Z",
        }
        for e in event_ids
    ]
    if bad:
        lines.insert(0, {"event_id": "broken", "event_type": "teleport"})
    return "\n".join(json.dumps(line) for line in lines).encode()


def _record(job: str, body: bytes, forwarded_as: tuple[str, str] | None = None) -> bytes:
    header = envelope.Envelope("events", job, "t", 1, "ndjson", forwarded_as=forwarded_as)
    return envelope.encode(header, body)


def _in_b(event_id: str) -> bool:
    """Whether child-b owns the event's key (the core's routing hash, as the API's)."""
    body = _body([event_id])
    batch, extents = data_processor_rs.validate_events(body, load_contract("events"), "ndjson")
    parts = data_processor_rs.route(body, batch, extents, [0, HALF])
    assert parts is not None
    return bool(parts[0][0] == 1)


def test_events_of_the_siblings_keys_are_forwarded_and_land_once(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path_factory.mktemp("home"))
    ids = [f"e{i}" for i in range(20)]
    theirs = [e for e in ids if _in_b(e)]
    mine = [e for e in ids if not _in_b(e)]
    # The request spans both halves (cut by the parent's range): some events are child-b's.
    assert mine
    assert theirs
    stream = SplitStream(
        {
            "parent": [],
            # The stale map's part: every event of the request (and a broken one, first),
            # placed by its first event's key; child-a owns it.
            "child-a": [_record("stale", _body(sorted(ids, key=_in_b), bad=True))],
            # A copy of one of child-b's events, sent again by a fresh map: the owner's.
            "child-b": [_record("again", _body([theirs[0]]))],
        },
        hash_ranges=True,
    )
    lake = Lake(settings)
    state = open_state(settings.state_database_url)
    monkeypatch.setattr(
        "eventlake.consumer.consumer.open_stream", lambda _settings, _dataset: stream
    )
    report = consume(settings, datasets=["events"], until_caught_up=True, lake=lake, state=state)

    # child-b's events left child-a for child-b with their explicit hash key, in one record.
    ((shard, forwarded),) = stream.published
    assert shard == "child-b"
    assert forwarded.explicit_hash_key is not None
    assert forwarded.explicit_hash_key >= HALF
    landed = lake.table("events").scan().to_arrow()["event_id"].to_pylist()
    assert sorted(landed) == sorted(ids)  # once each: the copy in child-b was a duplicate
    assert report.datasets["events"].duplicates == 1
    assert report.datasets["events"].dead_lettered == 1  # the broken one, wherever it went
    job = state.job("stale")
    assert job is not None
    # Its two parts (child-a's record and the one forwarded) committed, the counts summed.
    assert (job["status"], job["landed"], job["rejected"]) == ("committed", len(ids) - 1, 1)
    state.close()


def test_a_part_forwarded_again_after_a_crash_counts_once(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer forwarded child-b's events and died before its commit: child-b holds that
    forward, and the next owner of child-a forwards the same events again. They land once,
    and the job counts them once: received is what the request held, not more."""
    settings = Settings(home=tmp_path_factory.mktemp("home"))
    ids = [f"e{i}" for i in range(20)]
    theirs = [e for e in ids if _in_b(e)]
    assert theirs
    assert len(theirs) < len(ids)
    stream = SplitStream(
        {
            "parent": [],
            "child-a": [_record("stale", _body(sorted(ids, key=_in_b)))],
            # What the consumer that died published: child-a's record 1, its first forward.
            "child-b": [_record("stale", _body(theirs), forwarded_as=("child-a", "1+1"))],
        },
        hash_ranges=True,
    )
    lake = Lake(settings)
    state = open_state(settings.state_database_url)
    monkeypatch.setattr(
        "eventlake.consumer.consumer.open_stream", lambda _settings, _dataset: stream
    )
    report = consume(settings, datasets=["events"], until_caught_up=True, lake=lake, state=state)

    ((_, forwarded),) = stream.published  # forwarded again, under the same part key
    assert envelope.decode(forwarded.data, max_body_bytes=1 << 20)[0].forwarded_as == (
        "child-a",
        "1+1",
    )
    landed = lake.table("events").scan().to_arrow()["event_id"].to_pylist()
    assert sorted(landed) == sorted(ids)
    assert report.datasets["events"].duplicates == len(theirs)  # the second forward's
    job = state.job("stale")
    assert job is not None
    assert (job["status"], job["received"], job["landed"]) == ("committed", len(ids), len(ids))
    assert job["duplicates"] == 0
    assert sorted(p["sequence_number"] for p in job["parts"]) == ["1", "1+1"]
    state.close()
