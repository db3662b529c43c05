"""Clocks that jump: events stamped far in the future or the past, and a stream whose clock
(the arrival time it stamps, what its retention trims by) moves back and forth under the
consumer.

What is covered, and how time is faked: the events' own timestamps are data (sent through the
API); the stream's clock is the embedded stream's ``clock`` argument (injected, not patched),
which also stands for the API host's clock (each record's ``received_at`` is taken from it).
The consumer times its batches with ``time.monotonic`` (a wall-clock jump cannot stretch or
cut a batch); its leases expire by the state database's wall clock, which these tests do not
move (tests/consumer/test_leases.py covers expiry and takeover).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from eventlake.config import Settings
from eventlake.consumer import DatasetConsumer, drain
from eventlake.lake import DEAD_LETTER_TABLE, Lake
from eventlake.lake.catalog import local_path
from eventlake.state import open_state
from eventlake.stream import envelope
from eventlake.stream.base import OutgoingRecord
from eventlake.stream.embedded import EmbeddedStream
from tests.faults.stack import CONSUMER, TestClient, create_app, local_api_key

EPOCH = dt.date(1970, 1, 1)
DAY_S = 86_400.0

# event_timestamp as sent -> the UTC day it must be partitioned under.
ACCEPTED = {
    "first-day": ("0001-01-01T00:00:00Z", dt.date(1, 1, 1)),
    "last-second": ("9999-12-31T23:59:59Z", dt.date(9999, 12, 31)),
    "just-before-epoch": ("1969-12-31T23:59:59.999999Z", dt.date(1969, 12, 31)),
    "epoch-zero": (0, dt.date(1970, 1, 1)),
    "negative-epoch": (-365 * 86_400, dt.date(1969, 1, 1)),
    "epoch-millis-far": (10_000_000_000_000, dt.date(2286, 11, 20)),
    "offset-past-midnight": ("2026-11-20T23:30:00-05:00", dt.date(2026, 11, 21)),
    "offset-back-a-day": ("2100-01-01T09:00:00+14:00", dt.date(2099, 12, 31)),
}
# Outside years 1..9999 (in UTC), or not a timestamp: rejected with a reason, never landed.
REJECTED = {
    "year-zero": ("0000-12-31T12:00:00Z", "out_of_range"),
    "before-year-one-in-utc": ("0001-01-01T00:30:00+01:00", "out_of_range"),
    "after-9999-in-utc": ("9999-12-31T23:30:00-01:00", "out_of_range"),
    "five-digit-year": ("10000-01-01T00:00:00Z", "bad_timestamp"),
    "epoch-beyond": (1e300, "out_of_range"),
}


def _event(event_id: str, timestamp: object) -> dict[str, object]:
    return {
        "event_id": event_id,
        "user_id": "u1",
        "event_type": "page_view",
        "event_timestamp": timestamp,
    }


def test_events_far_in_the_future_or_past_land_in_their_own_day_or_are_rejected(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "home")
    body = [_event(name, ts) for name, (ts, _) in {**ACCEPTED, **REJECTED}.items()]
    with TestClient(create_app(settings)) as api:
        answer = api.post(
            "/api/v1/ingest", json=body, headers={"X-API-Key": local_api_key(settings)}
        )
    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert result["accepted"] == len(ACCEPTED)
    assert result["rejected"] == len(REJECTED)
    drain(settings, datasets=["events"])

    lake = Lake(settings)
    table = lake.table("events")
    seen: dict[str, dt.date] = {}
    for task in table.scan().plan_files():
        partition_day = EPOCH + dt.timedelta(days=task.file.partition[0])
        path = local_path(task.file.file_path)
        assert path is not None
        rows = pq.read_table(path, columns=["event_id", "event_timestamp", "event_date"])
        for row in rows.to_pylist():
            # The file's partition, the derived column and the timestamp agree, row by row.
            assert row["event_timestamp"].astimezone(dt.UTC).date() == partition_day, row
            assert row["event_date"] == partition_day, row
            seen[row["event_id"]] = partition_day
    assert seen == {name: day for name, (_, day) in ACCEPTED.items()}

    dead = lake.table(DEAD_LETTER_TABLE).scan().to_arrow().to_pylist()
    reasons = {json.loads(row["raw"])["event_id"]: row["reason"] for row in dead}
    assert reasons == {name: reason for name, (_, reason) in REJECTED.items()}


class Clock:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _publish(stream: EmbeddedStream, clock: Clock, first: int, count: int) -> set[str]:
    """``count`` events in 5 records, stamped by ``clock`` as the API would: their ids."""
    ids = [f"c{i:05d}" for i in range(first, first + count)]
    records = []
    for start in range(0, count, count // 5):
        chunk = ids[start : start + count // 5]
        body = "\n".join(json.dumps(_event(i, "2026-11-20T10:00:00Z")) for i in chunk).encode()
        env = envelope.Envelope(
            "events", f"job-{chunk[0]}", "clock-test", int(clock() * 1_000_000), "ndjson"
        )
        records.append(OutgoingRecord(env.job_id, envelope.encode(env, body)))
    stream.publish(records)
    return set(ids)


def _consume(consumer: DatasetConsumer) -> None:
    """Poll until every shard is idle."""
    while consumer.poll_batch(wait=False) is not None:
        pass


@pytest.fixture
def clocked(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path / "home", consumer=CONSUMER)
    clock = Clock()
    stream = EmbeddedStream(
        tmp_path / "stream.db",
        "clocked-events",
        shards=2,
        retention=dt.timedelta(days=7),
        trim_every=dt.timedelta(0),  # trimmed on every publish: the clock's effect at once
        clock=clock,
    )
    lake = Lake(settings)
    state = open_state(settings.state_database_url)
    consumer = DatasetConsumer(settings, lake, state, "events", stream=stream)
    consumer.open()
    yield clock, stream, lake, consumer
    consumer.close()
    stream.close()
    state.close()


def test_a_stream_clock_jumping_back_and_forth_loses_and_duplicates_nothing(clocked) -> None:  # type: ignore[no-untyped-def]
    clock, stream, lake, consumer = clocked
    published = _publish(stream, clock, 0, 50)
    _consume(consumer)
    clock.now -= 3 * DAY_S  # set back three days (an NTP correction, a VM restored)
    published |= _publish(stream, clock, 100, 50)
    clock.now += 9 * DAY_S  # then six days ahead of the real time (within the 7-day retention
    published |= _publish(stream, clock, 200, 50)  # of what is not consumed yet)
    _consume(consumer)
    clock.now -= 6 * DAY_S  # and back to the real time
    published |= _publish(stream, clock, 300, 50)
    _consume(consumer)

    ids = lake.table("events").scan().to_arrow()["event_id"].to_pylist()
    assert len(ids) == len(set(ids)), "an event landed twice"
    # Before the fix, the records stamped while the clock was set back were trimmed as
    # three days older than they were, before the consumer read them.
    assert set(ids) == published
    assert not lake.table(DEAD_LETTER_TABLE).scan().to_arrow().num_rows


def test_a_clock_jump_past_the_retention_is_a_reported_loss_never_a_silent_one(clocked) -> None:  # type: ignore[no-untyped-def]
    clock, stream, lake, consumer = clocked
    landed = _publish(stream, clock, 0, 50)
    _consume(consumer)
    _publish(stream, clock, 100, 50)  # not consumed before the jump
    clock.now += 8 * DAY_S  # past the 7-day retention: the next publish trims those records
    landed |= _publish(stream, clock, 200, 50)
    _consume(consumer)

    ids = lake.table("events").scan().to_arrow()["event_id"].to_pylist()
    assert len(ids) == len(set(ids))
    assert set(ids) == landed
    expired = [
        row
        for row in lake.table(DEAD_LETTER_TABLE).scan().to_arrow().to_pylist()
        if row["reason"] == "expired_in_stream"
    ]
    assert expired, "records trimmed before they were consumed left no trace"
    assert all("retention" in row["message"] for row in expired)
