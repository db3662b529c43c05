"""The consumer's window and positions when the world around it changes: a window file from
another lake, an empty page while re-learning, a new window size, records that expired from
the stream before they were read. Each of these once dropped or duplicated events (found in
review); each test states the guarantee it checks."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from eventlake.config import EmbeddedStreamSettings, LakeSettings, Settings, StreamSettings
from eventlake.consumer import DatasetConsumer, drain
from eventlake.lake import DEAD_LETTER_TABLE, Lake
from eventlake.state import StateStore
from eventlake.stream import envelope, open_stream
from eventlake.stream.base import OutgoingRecord, ShardBatch
from eventlake.stream.embedded import shard_id_for, shard_ordinal

NOW_US = 1_795_000_000_000_000
STREAM = "eventlake-events"


def event(event_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "user_id": "u1",
        "event_type": "page_view",
        "event_timestamp": "2026-11-20T10:00:00Z",
        "event_value": 1.5,
    }


def job_id_on_shard(ordinal: int, shards: int = 4) -> str:
    """A job id (the API's partition key) that the embedded stream puts on ``ordinal``."""
    while True:
        job_id = uuid.uuid4().hex
        if shard_ordinal(job_id, shards) == ordinal:
            return job_id


def publish(
    settings: Settings, records: list[dict[str, object]], *, shard: int | None = None
) -> str:
    """What the API does for one accepted request (one envelope); optionally on a given shard."""
    job_id = uuid.uuid4().hex if shard is None else job_id_on_shard(shard)
    body = "\n".join(json.dumps(r) for r in records).encode()
    data = envelope.encode(envelope.Envelope("events", job_id, "tests", NOW_US, "ndjson"), body)
    stream = open_stream(settings, "events")
    stream.ensure()
    stream.publish([OutgoingRecord(job_id, data)])
    return job_id


def event_ids(lake: Lake) -> list[str]:
    return sorted(
        lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"].to_pylist()
    )


# --- a window file that does not belong to the lake ----------------------------------------


def test_a_window_saved_for_another_lake_is_not_trusted(
    settings: Settings,
) -> None:
    """A saved window was once keyed by stream and membership only, and trusted whenever its
    positions were >= the table's watermark. Point the same EVENTLAKE_HOME/stream at a new lake
    (another namespace; likewise after deleting lake/ + catalog.db to rebuild the lake from the
    stream, or after a table rollback): the saved window holds every key, the new table's
    watermark is empty, nothing is re-learned and every event is dropped as a 'duplicate'."""
    publish(settings, [event(f"e{i}") for i in range(5)])
    drain(settings, datasets=["events"])
    assert len(event_ids(Lake(settings))) == 5

    other = Settings(home=settings.home, lake=LakeSettings(namespace="rebuilt"))
    report = drain(other, datasets=["events"])
    ids = event_ids(Lake(other))
    assert ids == [f"e{i}" for i in range(5)], (
        f"rebuilt table holds {ids}; the consumer reported {report.to_dict()['datasets']}"
    )


# --- re-learning past an empty page ----------------------------------------------


class _EmptyFirstRead:
    """A reader whose first read is an empty page that is not the end, which Kinesis GetRecords
    documents ("If there are no records available in the portion of the shard that the iterator
    points to, GetRecords returns an empty list. It might take multiple calls to get to a portion
    of the shard that contains records")."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.shard_id = inner.shard_id  # type: ignore[attr-defined]
        self._first = True

    def read(self, limit: int) -> ShardBatch:
        if self._first:
            self._first = False
            return ShardBatch(records=[], at_end=False, behind=None)
        return self._inner.read(limit)  # type: ignore[attr-defined]


class _KinesisLikeStream:
    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.name = inner.name  # type: ignore[attr-defined]
        self.empty_pages = True

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def reader(self, shard_id: str, after: int | None) -> object:
        reader = self._inner.reader(shard_id, after)  # type: ignore[attr-defined]
        return _EmptyFirstRead(reader) if self.empty_pages else reader


def test_relearning_reads_past_an_empty_page(settings: Settings, state: StateStore) -> None:
    """A crash after a commit and before the window save: on start the consumer re-reads the
    committed records for their keys, but ``_relearn`` stops at the first empty read, so the
    window misses "b" and a client retry of "b" lands a second time."""
    publish(settings, [event("a")], shard=0)
    drain(settings, datasets=["events"])
    group, shard = "eventlake.events", shard_id_for(0)
    old = state.load_window(group, STREAM, shard)
    assert old is not None
    publish(settings, [event("b")], shard=0)
    drain(settings, datasets=["events"])
    state.forget_windows(group, STREAM)
    state.save_window(group, STREAM, shard, old)  # as if killed before saving after "b"

    stream = _KinesisLikeStream(open_stream(settings, "events"))
    consumer = DatasetConsumer(settings, Lake(settings), state, "events", stream=stream)  # type: ignore[arg-type]
    consumer.open()
    stream.empty_pages = False
    publish(settings, [event("b"), event("c")], shard=0)  # the client retries "b"
    for _ in range(20):
        if consumer.poll_batch(wait=False) is None and len(event_ids(Lake(settings))) >= 3:
            break
    consumer.close()
    assert event_ids(Lake(settings)) == ["a", "b", "c"]


# --- a new window size ------------------------


def test_a_new_window_size_rebuilds_the_window(settings: Settings) -> None:
    """``_load_window`` takes the capacity from the file: raising
    EVENTLAKE_DEDUP_WINDOW has no effect once a window was saved."""
    small = settings.model_copy(deep=True)
    small.dedup_window = 5
    publish(small, [event(f"e{i}") for i in range(10)], shard=0)
    drain(small, datasets=["events"])

    large = settings.model_copy(deep=True)
    large.dedup_window = 1_000
    # A retry, well within the configured 1,000 keys, routed to e0's shard (as the API does).
    publish(large, [event("e0")], shard=0)
    drain(large, datasets=["events"])
    ids = event_ids(Lake(large))
    assert ids.count("e0") == 1, f"e0 landed {ids.count('e0')} times"


# --- records that expired before they were read ----------------------


def test_records_that_expired_before_they_were_read_are_dead_lettered(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """DESIGN: "nothing is dropped silently". A consumer that falls behind the stream's
    retention skips the expired records without an error, a log line, a dead-letter row or a
    count. The embedded log's numbers are gap-free per shard, so the gap is detectable (first
    sequence number read > position + 1); Kinesis says so via the trim horizon."""
    short = Settings(
        home=tmp_path_factory.mktemp("home"),
        stream=StreamSettings(backend=EmbeddedStreamSettings(shards=1, retention_hours=0.0002)),
    )
    publish(short, [event("old")])
    drain(short, datasets=["events"])  # the consumer is up to date ...
    publish(short, [event("lost")])  # ... then stops for longer than the retention
    time.sleep(1.0)
    publish(short, [event("new")])
    open_stream(short, "events").stream.delete_expired()  # type: ignore[attr-defined]  # the periodic retention pass
    report = drain(short, datasets=["events"])
    lake = Lake(short)
    dead = lake.table(DEAD_LETTER_TABLE).scan().to_arrow().to_pylist()
    landed = event_ids(lake)
    assert landed == ["new", "old"]
    assert [(d["reason"], d["message"][:23]) for d in dead] == [
        ("expired_in_stream", "records 2..2 of shard-0")
    ]
    assert report.datasets["events"].dead_lettered == 1


def test_a_replaced_stream_is_an_error_not_a_silent_skip(settings: Settings) -> None:
    """Deleting stream.db while keeping the lake restarts the sequence numbers below the
    lake's positions: reading from those positions would skip every new record in silence."""
    from eventlake.stream.base import StreamError

    publish(settings, [event(f"e{i}") for i in range(3)])
    publish(settings, [event("f")])
    drain(settings, datasets=["events"])
    for path in settings.home.glob("stream.db*"):
        path.unlink()
    from eventlake import stream as stream_module

    stream_module._shared.clear()  # a new process would open the new file
    publish(settings, [event("after")])
    with pytest.raises(StreamError, match="not the stream those positions came from"):
        drain(settings, datasets=["events"])
