"""409 for an Idempotency-Key in flight says when to come back: ``Retry-After``, the seconds
until a retry could take the claim over should its owner have died (at least 1). A key
reused with another body gets no Retry-After: retrying cannot help."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eventlake.api.auth import local_api_key
from eventlake.config import Settings, get_settings
from eventlake.state import IdempotencyConflictError, StateStore
from tests.api.conftest import event
from tests.api.test_ingest import post

BODY = json.dumps([event("ra-1"), event("ra-2")]).encode()
LEASE_S = 4.0


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("EVENTLAKE_API__IDEMPOTENCY_LEASE_SECONDS", str(LEASE_S))
    get_settings.cache_clear()
    return get_settings()


def test_a_key_in_flight_is_409_with_retry_after_then_replayed(
    make_client: Callable[..., TestClient], short_lease: Settings
) -> None:
    client = make_client(short_lease)
    auth = {"X-API-Key": local_api_key(short_lease)}
    ingestor = client.app.state.services.ingestor()  # type: ignore[attr-defined]
    stream = ingestor.streams.get("events")
    real_publish_each = stream.publish_each
    publishing, finish = threading.Event(), threading.Event()

    def held_publish_each(batches: Any) -> Any:
        publishing.set()
        assert finish.wait(10)
        return real_publish_each(batches)

    stream.publish_each = held_publish_each
    first: list[Any] = []
    thread = threading.Thread(
        target=lambda: first.append(post(client, auth, BODY, idempotency_key="k-flight"))
    )
    thread.start()
    try:
        assert publishing.wait(10), "the first request reached the stream"
        busy = post(client, auth, BODY, idempotency_key="k-flight")
    finally:
        finish.set()
        thread.join(10)
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "idempotency_conflict"
    assert 1 <= int(busy.headers["Retry-After"]) <= LEASE_S

    assert first[0].status_code == 202
    again = post(client, auth, BODY, idempotency_key="k-flight")
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (202, "true")

    other = post(client, auth, json.dumps([event("ra-3")]).encode(), idempotency_key="k-flight")
    assert other.status_code == 409
    assert "Retry-After" not in other.headers, "another body: retrying cannot help"


def test_retry_after_counts_down_to_the_takeover_of_a_silent_claim(settings: Settings) -> None:
    """The claim of a process that stopped renewing (kill -9): the wait shrinks with its
    lease, and is a fresh lease for a claim taken a moment ago."""
    state = StateStore(settings.state_database_url)
    try:
        state.claim_idempotency_key("src", "k", "fp", owner="dead-host", lease_seconds=30)
        with pytest.raises(IdempotencyConflictError) as in_flight:
            state.claim_idempotency_key("src", "k", "fp", owner="me", lease_seconds=5)
        assert in_flight.value.retry_after is not None
        assert 28 < in_flight.value.retry_after <= 30
        with pytest.raises(IdempotencyConflictError) as other_body:
            state.claim_idempotency_key("src", "k", "another", owner="me", lease_seconds=5)
        assert other_body.value.retry_after is None
    finally:
        state.close()
