"""The consumer against the real embedded stream, the real lake and the real state database.

What a user would notice: every accepted event in the table once, every rejection in the
dead-letter table with its job, job status complete, and all of that still true after a crash
at any point, a lost window, a failed commit. (Consumers sharing shards: test_leases.py.)
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pyarrow.compute as pc
import pytest

from eventlake.config import Settings
from eventlake.consumer import consume, drain, position_key
from eventlake.lake import DEAD_LETTER_TABLE, Lake
from eventlake.state import StateStore
from eventlake.stream import envelope, open_stream
from eventlake.stream.base import OutgoingRecord
from eventlake.stream.embedded import shard_id_for, shard_ordinal

NOW_US = 1_795_000_000_000_000


def event(event_id: str, user: str = "u1", event_type: str = "page_view") -> dict[str, object]:
    return {
        "event_id": event_id,
        "user_id": user,
        "event_type": event_type,
        "event_timestamp": "2026-11-20T10:00:00Z",
        "event_value": 1.5,
    }


def publish(
    settings: Settings,
    state: StateStore,
    records: list[dict[str, object]],
    *,
    dataset: str = "events",
) -> str:
    """What the API does for one accepted request: one envelope, one job. Routed by its first
    event's id, as the API routes an event to the shard of its key: a retry of that event
    reaches the same shard (and its window)."""
    job_id = uuid.uuid4().hex
    body = "\n".join(json.dumps(r) for r in records).encode()
    data = envelope.encode(envelope.Envelope(dataset, job_id, "tests", NOW_US, "ndjson"), body)
    stream = open_stream(settings, dataset)
    stream.ensure()
    partition_key = str(records[0].get("event_id", job_id)) if records else job_id
    (published,) = stream.publish([OutgoingRecord(partition_key, data)])
    state.create_job(
        job_id,
        kind="ingest",
        name=dataset,
        source="tests",
        status="published",
        received=len(records),
        accepted=len(records),
        stream=stream.name,
        shard_id=published.shard_id,
        sequence_number=published.sequence_number,
        published=True,
    )
    return job_id


def event_ids(lake: Lake) -> list[str]:
    return sorted(
        lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"].to_pylist()
    )


def dead_letters(lake: Lake) -> list[dict[str, object]]:
    table = lake.table(DEAD_LETTER_TABLE).scan().to_arrow()
    return table.select(["job_id", "reason", "field", "dataset"]).to_pylist()


def test_every_accepted_event_lands_once_with_job_status(
    settings: Settings, state: StateStore
) -> None:
    jobs = [publish(settings, state, [event(f"e{j}-{i}") for i in range(50)]) for j in range(20)]
    bad = publish(settings, state, [event("ok-1"), {**event("bad-1"), "event_type": "teleport"}])
    report = drain(settings, datasets=["events"])

    lake = Lake(settings)
    ids = event_ids(lake)
    assert len(ids) == len(set(ids)) == 20 * 50 + 1
    assert report.datasets["events"].landed == 1001
    assert dead_letters(lake) == [
        {"job_id": bad, "reason": "not_in_enum", "field": "event_type", "dataset": "events"}
    ]
    for job_id in jobs:
        job = state.job(job_id)
        assert job is not None
        assert (job["status"], job["landed"], job["dead_lettered"]) == ("committed", 50, 0)
        assert job["snapshot_id"] is not None
    bad_job = state.job(bad)
    assert bad_job is not None
    assert (bad_job["landed"], bad_job["dead_lettered"]) == (1, 1)
    # Positions: one watermark key per shard used, at that shard's last sequence number.
    stream = open_stream(settings, "events")
    marks = lake.watermark("events")
    assert set(marks) <= {position_key(stream.name, s.shard_id) for s in stream.shards()}
    metrics = state.metrics()
    assert metrics["events_landed"] == 1001
    assert metrics["last_commit"]["table"] == "events"


def test_a_second_drain_commits_nothing(settings: Settings, state: StateStore) -> None:
    publish(settings, state, [event(f"e{i}") for i in range(10)])
    drain(settings, datasets=["events"])
    snapshots = len(Lake(settings).table("events").snapshots())
    again = drain(settings, datasets=["events"])
    assert again.datasets["events"].batches == 0
    assert len(Lake(settings).table("events").snapshots()) == snapshots


def test_duplicates_across_requests_are_dropped_and_counted(
    settings: Settings, state: StateStore
) -> None:
    publish(settings, state, [event("a"), event("b")])
    drain(settings, datasets=["events"])
    retry = publish(settings, state, [event("a"), event("c")])  # a client retried "a"
    report = drain(settings, datasets=["events"])
    assert event_ids(Lake(settings)) == ["a", "b", "c"]
    assert report.datasets["events"].duplicates == 1
    job = state.job(retry)
    assert job is not None
    assert (job["landed"], job["duplicates"]) == (1, 1)


GROUP = "eventlake.events"  # the default namespace's events table
STREAM = "eventlake-events"


def test_window_is_rebuilt_from_the_stream_when_it_is_lost(
    settings: Settings, state: StateStore
) -> None:
    publish(settings, state, [event("b"), event("a")])
    drain(settings, datasets=["events"])
    assert state.load_window(GROUP, STREAM, published_shard(state)) is not None
    state.forget_windows(GROUP, STREAM)
    publish(settings, state, [event("b"), event("d")])
    drain(settings, datasets=["events"])
    assert event_ids(Lake(settings)) == ["a", "b", "d"]


def test_window_saved_before_a_commit_is_caught_up_from_the_stream(
    settings: Settings, state: StateStore
) -> None:
    """A crash after a commit but before the window was saved: the saved window misses the
    committed keys; the consumer re-learns them from the stream instead of landing twice."""
    publish(settings, state, [event("b"), event("a")])  # on b's shard, as every publish here
    drain(settings, datasets=["events"])
    shard = published_shard(state)
    old = state.load_window(GROUP, STREAM, shard)
    assert old is not None
    publish(settings, state, [event("b")])
    drain(settings, datasets=["events"])
    state.forget_windows(GROUP, STREAM)
    state.save_window(GROUP, STREAM, shard, old)  # as if the process died before saving
    publish(settings, state, [event("b"), event("c")])
    report = drain(settings, datasets=["events"])
    assert event_ids(Lake(settings)) == ["a", "b", "c"]
    assert report.datasets["events"].duplicates == 1


def published_shard(_state: StateStore) -> str:
    """The shard of event "b", where these tests publish (routed by their first event)."""
    return shard_id_for(shard_ordinal("b", 4))


class _FailingLake(Lake):
    """A real lake whose next commit to ``fail_table`` dies after the data files are written
    and before the catalog is told, as a crash or a network failure would."""

    fail_table: str | None = None

    def commit(self, table_name, data, **kwargs):  # type: ignore[no-untyped-def,override]
        if table_name == self.fail_table:
            self.fail_table = None
            raise ConnectionError(f"lost the catalog while committing {table_name}")
        return super().commit(table_name, data, **kwargs)


def test_a_failed_commit_forgets_the_uncommitted_keys(
    settings: Settings, state: StateStore
) -> None:
    publish(settings, state, [event("a"), event("b"), {**event("x"), "user_id": ""}])
    lake = _FailingLake(settings)
    lake.fail_table = "events"  # after the dead-letter commit: the worst place
    with pytest.raises(ConnectionError):
        consume(settings, datasets=["events"], until_caught_up=True, lake=lake, state=state)
    assert len(dead_letters(Lake(settings))) == 1
    consume(settings, datasets=["events"], until_caught_up=True, lake=lake, state=state)
    fresh = Lake(settings)
    assert event_ids(fresh) == ["a", "b"]  # not dropped as "duplicates" of the failed try
    assert len(dead_letters(fresh)) == 1  # the replayed rejection is not written twice


def test_a_crash_between_the_two_commits_is_repaired_by_a_new_process(
    settings: Settings, state: StateStore
) -> None:
    publish(settings, state, [event("a"), {**event("x"), "event_type": "?"}])
    lake = _FailingLake(settings)
    lake.fail_table = "events"
    with pytest.raises(ConnectionError):
        consume(settings, datasets=["events"], until_caught_up=True, lake=lake, state=state)
    # A new consumer, as after a restart, with more traffic meanwhile.
    publish(settings, state, [event("b"), {**event("y"), "event_type": "?"}])
    drain(settings, datasets=["events"])
    fresh = Lake(settings)
    assert event_ids(fresh) == ["a", "b"]
    assert sorted(r["reason"] for r in dead_letters(fresh)) == ["not_in_enum", "not_in_enum"]


def test_records_eventlake_did_not_write_go_to_the_dead_letter_table(
    settings: Settings, state: StateStore
) -> None:
    stream = open_stream(settings, "events")
    stream.ensure()
    users_record = envelope.encode(
        envelope.Envelope("users", "j-users", "tests", NOW_US, "ndjson"), b"{}"
    )
    stream.publish(
        [
            OutgoingRecord("k1", b"\x00\x01 not an envelope"),
            OutgoingRecord("k2", users_record),
            OutgoingRecord("k3", envelope.MAGIC + b'{"dataset": 1}\n{}'),
        ]
    )
    publish(settings, state, [event("a")])
    report = drain(settings, datasets=["events"])
    lake = Lake(settings)
    assert event_ids(lake) == ["a"]
    reasons = [r["reason"] for r in dead_letters(lake)]
    assert reasons == ["unreadable_record"] * 3
    assert report.datasets["events"].dead_lettered == 3


def test_csv_and_gzip_bodies_are_processed_as_sent(settings: Settings, state: StateStore) -> None:
    stream = open_stream(settings, "events")
    stream.ensure()
    csv_body = (
        b"event_id,user_id,event_type,event_timestamp,event_value\n"
        b"c1,u1,purchase,2026-11-20T10:00:00Z,9.5\n"
        b"c2,u2,purchase,not-a-time,1\n"
    )
    gz = envelope.Envelope("events", "j-gz", "tests", NOW_US, "ndjson", "gzip")
    stream.publish(
        [
            OutgoingRecord(
                "a",
                envelope.encode(envelope.Envelope("events", "j-csv", "t", NOW_US, "csv"), csv_body),
            ),
            OutgoingRecord("b", envelope.encode(gz, json.dumps(event("g1")).encode())),
        ]
    )
    drain(settings, datasets=["events"])
    lake = Lake(settings)
    assert event_ids(lake) == ["c1", "g1"]
    assert [r["field"] for r in dead_letters(lake)] == ["event_timestamp"]
    rows = lake.table("events").scan().to_arrow()
    assert set(rows["_job_id"].to_pylist()) == {"j-csv", "j-gz"}


def test_a_long_running_consumer_stops_on_request_after_committing(
    settings: Settings, state: StateStore
) -> None:
    stop = threading.Event()
    settings.consumer.max_batch_seconds = 0.2
    result: list[object] = []
    thread = threading.Thread(
        target=lambda: result.append(consume(settings, datasets=["events"], stop=stop))
    )
    thread.start()
    job_id = publish(settings, state, [event("live-1")])
    for _ in range(300):  # the consumer commits within its batch time
        job = state.job(job_id)
        if job is not None and job["status"] == "committed":
            break
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert event_ids(Lake(settings)) == ["live-1"]


def test_landed_rows_carry_the_job_source_and_receive_time(
    settings: Settings, state: StateStore
) -> None:
    job = publish(settings, state, [event("a")])
    drain(settings, datasets=["events"])
    rows = Lake(settings).table("events").scan().to_arrow()
    assert rows["_job_id"].to_pylist() == [job]
    assert rows["_source"].to_pylist() == ["tests"]
    assert pc.max(rows["_ingested_at"]).value == NOW_US


def test_a_stream_failure_mid_batch_forgets_what_the_batch_read(
    settings: Settings, state: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records read and processed before the stream failed are neither skipped (the readers
    start again from the lake) nor remembered as seen (they would become false duplicates)."""
    from eventlake.stream.base import StreamError
    from eventlake.stream.embedded import EmbeddedShardReader

    for j in range(8):
        publish(settings, state, [event(f"e{j}-{i}") for i in range(5)])
    settings.consumer.read_limit = 1  # many reads per batch, so the failure lands mid-batch
    real_read = EmbeddedShardReader.read
    calls = {"n": 0}

    def flaky_read(self: EmbeddedShardReader, limit: int):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 5:
            raise StreamError("the disk went away for a moment")
        return real_read(self, limit)

    monkeypatch.setattr(EmbeddedShardReader, "read", flaky_read)
    stop = threading.Event()
    settings.consumer.max_batch_seconds = 0.1
    thread = threading.Thread(
        target=consume, args=(settings,), kwargs={"datasets": ["events"], "stop": stop}
    )
    thread.start()
    try:
        for _ in range(300):
            if "events" in Lake(settings).table_names() and len(event_ids(Lake(settings))) >= 40:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert calls["n"] > 5
    ids = event_ids(Lake(settings))
    assert len(ids) == len(set(ids)) == 40


def test_a_failure_while_starting_over_does_not_save_a_wrong_window(
    settings: Settings, state: StateStore
) -> None:
    """The commit fails, and so does the lake when the consumer tries to start over: the
    window in memory (holding the keys of the batch that did not land) must not be saved."""
    publish(settings, state, [event("a"), event("b")])

    class _BrokenLake(_FailingLake):
        broken = False

        def watermark(self, table_name):  # type: ignore[no-untyped-def,override]
            if self.broken:
                raise ConnectionError("the catalog is down")
            return super().watermark(table_name)

        def commit(self, table_name, data, **kwargs):  # type: ignore[no-untyped-def,override]
            if table_name == "events":
                self.broken = True
                raise ConnectionError("lost the catalog while committing")
            return super().commit(table_name, data, **kwargs)

    with pytest.raises(ConnectionError):
        consume(
            settings,
            datasets=["events"],
            until_caught_up=True,
            lake=_BrokenLake(settings),
            state=state,
        )
    drain(settings, datasets=["events"])
    assert event_ids(Lake(settings)) == ["a", "b"]
