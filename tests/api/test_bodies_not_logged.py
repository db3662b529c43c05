"""Request bodies never reach the logs: whatever a request carries (personal data, secrets a
client put in an event) stays in the stream, the lake and the answer to that client, never in
a log line, whether the request is accepted, rejected, refused or meets a failure inside."""

from __future__ import annotations

import gzip
import json
import logging

import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient

from eventlake.errors import StreamError
from eventlake.state import StateStore
from eventlake.stream.embedded import EmbeddedStream
from tests.api.conftest import event

MARKER = "ZZpd7f3a9c"  # personal data: would show in any log line that quoted a body
URL = "/api/v1/ingest?dataset=events"


def bodies() -> dict[str, tuple[bytes, dict[str, str]]]:
    good = json.dumps([event(f"e-{i}", user_id=MARKER) for i in range(3)]).encode()
    return {
        "accepted": (good, {"Content-Type": "application/json"}),
        "gzip": (
            gzip.compress(good),
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        ),
        "rejected records": (
            json.dumps([event("e-9", event_type=MARKER), {"event_id": MARKER}]).encode(),
            {"Content-Type": "application/json"},
        ),
        "not json": (f"{{{MARKER}".encode(), {"Content-Type": "application/json"}),
        "cut off": (
            f'[{{"event_id": "{MARKER}", "user_id": "u'.encode(),
            {"Content-Type": "application/json"},
        ),
        "ndjson": (
            f'{{"event_id": "{MARKER}"}}\n{MARKER}\n'.encode(),
            {"Content-Type": "application/x-ndjson"},
        ),
        "csv": (f"event_id,user_id\n{MARKER},{MARKER}\n".encode(), {"Content-Type": "text/csv"}),
        "bad gzip": (
            MARKER.encode(),
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        ),
        "wrong type": (MARKER.encode(), {"Content-Type": "text/plain"}),
    }


@pytest.mark.parametrize("name", list(bodies()))
def test_no_body_in_the_logs_whatever_the_answer(
    client: TestClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture, name: str
) -> None:
    body, headers = bodies()[name]
    caplog.set_level(logging.DEBUG)
    answer = client.post(URL, content=body, headers={**auth, **headers, "Idempotency-Key": MARKER})
    assert answer.status_code < 500, answer.text
    assert caplog.records, "nothing was logged at all: the check would prove nothing"
    assert MARKER not in caplog.text


def test_no_body_in_the_logs_when_the_stream_fails(
    client: TestClient,
    auth: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(self: EmbeddedStream, batches: object) -> object:
        raise StreamError("cannot publish: disk I/O error")

    monkeypatch.setattr(EmbeddedStream, "publish_each", down)
    caplog.set_level(logging.DEBUG)
    body, headers = bodies()["accepted"]
    answer = client.post(URL, content=body, headers={**auth, **headers})
    assert answer.status_code == 503
    assert "stream" in caplog.text  # the failure itself is logged
    assert MARKER not in caplog.text


def test_no_body_in_the_logs_when_the_state_database_fails(
    client: TestClient,
    auth: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database error's text carries its statement's parameters: storing an answer (with
    the rejected records' reasons) or a job row must fail without them reaching the log."""

    def full(*args: object, **kwargs: object) -> None:
        raise sqlalchemy.exc.OperationalError(
            "INSERT INTO idempotency VALUES (?)", args, Exception("database or disk is full")
        )

    monkeypatch.setattr(StateStore, "store_idempotent_answer", full)
    monkeypatch.setattr(StateStore, "add_published_jobs", full)
    caplog.set_level(logging.DEBUG)
    # Rejected records whose reasons quote them: the answer holds the marker many times
    # (a database error's text cuts long parameters in the middle; some copies survive).
    rejected = [{"event_id": f"e-{i}", "event_type": MARKER} for i in range(8)]  # short
    body = json.dumps([event("e-1"), *rejected])
    body = body.encode()
    answer = client.post(
        URL,
        content=body,
        headers={**auth, "Content-Type": "application/json", "Idempotency-Key": "k-state"},
    )
    assert answer.status_code == 202  # the batch is in the stream: the answer stands
    assert MARKER in answer.text  # the client is told why its record was rejected
    assert "database or disk is full" in caplog.text  # the failure is logged
    assert MARKER not in caplog.text
