"""The API's writer (``GroupWriter``) over a real ingestor, embedded stream and job database:
requests that wait while a group is written are published together in the next one, each
gets its own answer, and a request the stream refuses fails alone."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator, Sequence

import pytest

from eventlake.config import Settings, get_settings
from eventlake.ingest import (
    DependencyUnavailableError,
    GroupWriter,
    IngestAnswer,
    Ingestor,
    PreparedBatch,
)
from eventlake.state import PublishedJob, StateStore, open_state
from eventlake.stream.embedded import HASH_SPACE


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def state(settings: Settings) -> Iterator[StateStore]:
    store = open_state(settings.state_database_url)
    yield store
    store.close()


@pytest.fixture
def ingestor(settings: Settings, state: StateStore) -> Iterator[Ingestor]:
    ingestor = Ingestor(settings, state)
    yield ingestor
    ingestor.close()


def prepared(ingestor: Ingestor, request: int) -> PreparedBatch:
    body = json.dumps(
        [
            {
                "event_id": f"r{request}-e{i}",
                "user_id": f"u-{i}",
                "event_type": "page_view",
                "event_timestamp": "2026-11-01T12:00:00Z",
            }
            for i in range(5)
        ]
    ).encode()
    return ingestor.prepare(
        body, dataset="events", content_type="application/json", content_encoding=None, source="t"
    )


class HeldFirstGroup:
    """The ingestor's publishing, holding the first group until ``release`` so that the
    requests sent meanwhile queue; records the requests of each group."""

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.groups: list[list[str]] = []
        self.writing = threading.Event()
        self.release = threading.Event()

    def publish_records(
        self, batches: Sequence[PreparedBatch]
    ) -> list[PublishedJob | DependencyUnavailableError]:
        self.groups.append([batch.answer["job_id"] for batch in batches])
        if len(self.groups) == 1:
            self.writing.set()
            assert self.release.wait(10)
        return self.ingestor.publish_records(batches)

    def record_published(
        self,
        batches: Sequence[PreparedBatch],
        published: Sequence[PublishedJob | DependencyUnavailableError],
    ) -> list[IngestAnswer | DependencyUnavailableError]:
        return self.ingestor.record_published(batches, published)


async def publish_while_held(
    writer: GroupWriter, held: HeldFirstGroup, batches: list[PreparedBatch]
) -> list[IngestAnswer | BaseException]:
    first = asyncio.create_task(writer.publish(batches[0]))
    assert await asyncio.to_thread(held.writing.wait, 10)
    rest = [asyncio.create_task(writer.publish(batch)) for batch in batches[1:]]
    await asyncio.sleep(0)  # every request queued behind the held group
    held.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


# With a limit below one request's records, each request is a group of its own.
@pytest.mark.parametrize(("max_records", "expected_groups"), [(4096, [1, 9]), (1, [1] * 10)])
def test_requests_waiting_on_a_group_are_published_together_in_the_next(
    ingestor: Ingestor, state: StateStore, max_records: int, expected_groups: list[int]
) -> None:
    held = HeldFirstGroup(ingestor)
    writer = GroupWriter(lambda: held, max_records=max_records)
    batches = [prepared(ingestor, request) for request in range(10)]
    try:
        answers = asyncio.run(publish_while_held(writer, held, batches))
    finally:
        writer.close()

    assert [len(group) for group in held.groups] == expected_groups
    for batch, answer in zip(batches, answers, strict=True):
        assert isinstance(answer, IngestAnswer)
        assert (answer.status_code, answer.body["status"]) == (202, "published")
        assert answer.body["job_id"] == batch.answer["job_id"]  # its own answer
        job = state.job(batch.answer["job_id"])
        assert job is not None
        assert job["status"] == "published"
        assert job["accepted"] == 5
    # Every request's records are in the stream, each shard's in the order the requests were
    # sent.
    stream = ingestor.streams.get("events")
    for shard in stream.shards():
        read = stream.reader(shard.shard_id, None).read(100).records
        sent = [
            record.data
            for batch in batches
            for record, part in zip(batch.records, batch.parts, strict=True)
            if part.shard_id == shard.shard_id
        ]
        assert [record.data for record in read] == sent


def test_a_request_the_stream_refuses_fails_alone(ingestor: Ingestor, state: StateStore) -> None:
    held = HeldFirstGroup(ingestor)
    writer = GroupWriter(lambda: held)
    batches = [prepared(ingestor, request) for request in range(4)]
    # A hash key outside the stream's space: the stream refuses this request's record.
    refused = batches[2]
    refused.records[0] = dataclasses.replace(refused.records[0], explicit_hash_key=HASH_SPACE)
    try:
        answers = asyncio.run(publish_while_held(writer, held, batches))
    finally:
        writer.close()

    assert [len(group) for group in held.groups] == [1, 3]
    assert isinstance(answers[2], DependencyUnavailableError)
    assert answers[2].status_code == 503
    assert state.job(refused.answer["job_id"]) is None
    for index in (0, 1, 3):
        answer = answers[index]
        assert isinstance(answer, IngestAnswer)
        assert answer.status_code == 202
        assert state.job(batches[index].answer["job_id"]) is not None
