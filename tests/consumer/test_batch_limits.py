"""A consumer's batch commits at its size in events, its size in bytes, or its time, whichever
comes first (as Firehose and Flink's Iceberg sink do): the real embedded stream and lake."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import data_processor_rs
import pytest

from eventlake.config import Settings
from eventlake.consumer import DatasetConsumer
from eventlake.contracts import load_contract
from eventlake.lake import Lake
from eventlake.state import StateStore
from eventlake.stream import envelope, open_stream
from eventlake.stream.base import OutgoingRecord

NOW_US = 1_795_000_000_000_000
EVENTS_PER_RECORD = 5
RECORDS = 6


def body(first: int) -> bytes:
    events = (
        {
            "event_id": f"e{first + i:04d}",
            "user_id": "u1",
            "event_type": "page_view",
            "event_timestamp": "2026-11-20T10:00:00Z",
            "event_value": 1.5,
        }
        for i in range(EVENTS_PER_RECORD)
    )
    return "\n".join(json.dumps(e) for e in events).encode()


def publish(settings: Settings, records: int) -> None:
    """``records`` stream records (accepted requests) of EVENTS_PER_RECORD events each."""
    stream = open_stream(settings, "events")
    stream.ensure()
    for r in range(records):
        job_id = uuid.uuid4().hex
        meta = envelope.Envelope("events", job_id, "tests", NOW_US, "ndjson")
        stream.publish([OutgoingRecord(job_id, envelope.encode(meta, body(r * 100)))])


def record_bytes() -> int:
    """The Arrow size of one record's rows, as the consumer holds them."""
    rows = data_processor_rs.process(
        body(0), load_contract("events"), job_id=uuid.uuid4().hex, source="tests",
        ingested_at_us=NOW_US,
    )  # fmt: skip
    return int(rows.to_arrow().nbytes)


@pytest.fixture
def consumer(settings: Settings, state: StateStore) -> Iterator[DatasetConsumer]:
    # One record per read: the batch grows a record at a time, so where it stops shows which
    # limit closed it.
    settings.consumer.read_limit = 1
    consumer = DatasetConsumer(settings, Lake(settings), state, "events")
    yield consumer
    consumer.close()


def batches(consumer: DatasetConsumer) -> list[tuple[int, int]]:
    """(records, events) of each commit until the stream is drained."""
    sizes = []
    while (report := consumer.poll_batch(wait=True)) is not None:
        assert report.landed == report.received  # nothing rejected, nothing duplicated
        sizes.append((report.records, report.received))
    return sizes


def test_a_batch_closes_on_bytes_before_events(
    settings: Settings, consumer: DatasetConsumer
) -> None:
    limits = settings.consumer
    limits.max_batch_events, limits.max_batch_seconds = 1000, 30
    limits.max_batch_bytes = int(record_bytes() * 1.5)  # one record is under, two are over
    publish(settings, RECORDS)
    assert batches(consumer) == [(2, 2 * EVENTS_PER_RECORD)] * (RECORDS // 2)


def test_a_batch_closes_on_events_before_bytes(
    settings: Settings, consumer: DatasetConsumer
) -> None:
    limits = settings.consumer
    limits.max_batch_events, limits.max_batch_seconds = 3 * EVENTS_PER_RECORD, 30
    limits.max_batch_bytes = 100 * record_bytes()
    publish(settings, RECORDS)
    assert batches(consumer) == [(3, 3 * EVENTS_PER_RECORD)] * (RECORDS // 3)


def test_a_batch_closes_on_time_when_neither_size_is_reached(
    settings: Settings, consumer: DatasetConsumer
) -> None:
    limits = settings.consumer
    limits.max_batch_events, limits.max_batch_bytes = 1000, 100 * record_bytes()
    limits.max_batch_seconds, limits.poll_seconds = 0.3, 0.05
    publish(settings, 1)
    started = time.monotonic()
    report = consumer.poll_batch(wait=True)
    waited = time.monotonic() - started
    assert report is not None
    assert (report.records, report.landed) == (1, EVENTS_PER_RECORD)
    assert 0.3 <= waited < 10  # it waited for more, then committed what it had
