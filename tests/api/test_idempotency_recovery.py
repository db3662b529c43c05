"""An accepted batch lands once however its idempotent retries and the job database fail:
a lost first answer, a claim that lapsed while the first request was still publishing, a job
row the API could not write. (Each once landed a batch twice or left a job that did not
reconcile; found in review.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from eventlake.config import Settings, get_settings
from eventlake.consumer import drain
from eventlake.ingest import IngestError, Ingestor
from eventlake.lake import Lake
from eventlake.state import StateStore, open_state
from eventlake.state import idempotency as idempotency_module

BODY = json.dumps(
    [
        {
            "user_id": f"u-{i}",
            "event_type": "page_view",
            "event_timestamp": "2026-11-01T12:00:00Z",
            "event_value": None,
        }
        for i in range(3)
    ]
).encode()  # no event_id: the API generates them


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


def accept(ingestor: Ingestor, key: str | None = "key-1") -> Any:
    return ingestor.accept(
        BODY,
        dataset="events",
        content_type="application/json",
        content_encoding=None,
        source="client",
        idempotency_key=key,
    )


def landed(settings: Settings) -> int:
    drain(settings, datasets=["events"])
    return Lake(settings).table("events").scan().to_arrow().num_rows


def _db_down(*_: object, **__: object) -> None:
    raise OperationalError("UPDATE idempotency_keys", {}, Exception("database is locked"))


def test_a_retry_whose_first_answer_was_lost_is_answered_from_the_job(
    settings: Settings, state: StateStore, ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN: "Idempotency-Key replays return the first answer and publish nothing twice".
    Storing the first answer fails and the claim lapses; the retry finds the job by its id
    (derived from the key) and answers from it, publishing nothing."""
    real_store = state.store_idempotent_answer
    monkeypatch.setattr(state, "store_idempotent_answer", _db_down)
    first = accept(ingestor)
    assert first.status_code == 202
    monkeypatch.setattr(state, "store_idempotent_answer", real_store)

    monkeypatch.setattr(idempotency_module, "IDEMPOTENCY_PENDING_SECONDS", 0.0)  # a minute later
    retry = accept(ingestor)
    assert (retry.status_code, retry.replayed) == (202, True)
    assert retry.body["job_id"] == first.body["job_id"]
    assert (retry.body["received"], retry.body["accepted"]) == (3, 3)
    assert landed(settings) == 3


def test_a_retry_while_the_first_request_is_still_publishing_lands_the_batch_once(
    settings: Settings, state: StateStore, ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim lapses while the first request is still publishing (here at once; in
    production after 10 minutes, longer than any publish). The retry publishes too, but under
    the same job id and with the same generated event ids: the consumer drops the copy."""
    monkeypatch.setattr(idempotency_module, "IDEMPOTENCY_PENDING_SECONDS", 0.0)
    stream = ingestor.streams.get("events")
    real_publish_each = stream.publish_each
    first_in_flight = threading.Event()
    release_first = threading.Event()
    calls = {"n": 0}

    def slow_first(batches: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            first_in_flight.set()
            release_first.wait(10)
        return real_publish_each(batches)

    monkeypatch.setattr(stream, "publish_each", slow_first)
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(accept(ingestor)))
    thread.start()
    assert first_in_flight.wait(10)  # the first request is still publishing: the retry now
    second = accept(ingestor)
    release_first.set()
    thread.join(10)
    assert second.status_code == answers[0].status_code == 202
    assert second.body["job_id"] == answers[0].body["job_id"]
    assert landed(settings) == 3


def test_a_job_the_api_could_not_record_is_recorded_whole_by_the_consumer(
    settings: Settings, state: StateStore, ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API answers 202 even when it cannot write the job (the batch is in the stream);
    the consumer then writes the whole job from the stream record, and /metrics reconciles."""
    monkeypatch.setattr(state, "add_published_jobs", _db_down)
    answer = accept(ingestor, key=None)
    assert answer.status_code == 202
    monkeypatch.undo()
    assert landed(settings) == 3
    job = state.job(answer.body["job_id"])
    assert job is not None
    assert job["status"] == "committed"
    metrics = state.metrics()
    assert (job["received"], job["accepted"], job["source"]) == (3, 3, "client"), job
    assert metrics["events_received"] == (
        metrics["events_landed"] + metrics["events_dead_lettered"] + metrics["events_duplicates"]
    ), metrics


def test_an_invalid_idempotent_batch_can_be_sent_again(ingestor: Ingestor) -> None:
    """The job of a body with no valid record exists under the key's job id; sending it
    again (or fixing it) under the same key must not trip over that row."""
    bad = json.dumps([{"event_type": "teleport"}]).encode()
    for body in (bad, bad):
        with pytest.raises(IngestError) as caught:
            ingestor.accept(
                body,
                dataset="events",
                content_type="application/json",
                content_encoding=None,
                source="client",
                idempotency_key="k-invalid",
            )
        assert caught.value.status_code == 422
    fixed = ingestor.accept(
        BODY,
        dataset="events",
        content_type="application/json",
        content_encoding=None,
        source="client",
        idempotency_key="k-invalid",
    )
    assert fixed.status_code == 202


def test_generated_ids_are_derived_from_the_job() -> None:
    from eventlake.ingest.event_ids import generated_id

    job = "0" * 31 + "1"
    assert generated_id(job, 0) == generated_id(job, 0) != generated_id(job, 1)
    assert len(generated_id(job, 7)) == 32
