"""What an HTTP client library would not send but an ASGI server may pass on, straight into
the app: found by the ``http`` fuzz harness (tests/fuzz/http_harness.py), each answered 400
with nothing published instead of a 500 and a traceback in the log."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest

from eventlake.api.app import create_app
from eventlake.api.auth import local_api_key
from eventlake.config import Settings
from tests.api.conftest import event
from tests.api.test_ingest import Published


def call(
    settings: Settings, headers: list[tuple[bytes, bytes]], messages: list[dict[str, Any]]
) -> tuple[int | None, dict[str, Any] | None]:
    """POST /api/v1/ingest with these raw headers and ``receive`` messages, through the app's
    ASGI interface (its lifespan run around it): the status and JSON body, if it answered."""
    app = create_app(settings)
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] = answer.get("body", b"") + message.get("body", b"")

    async def run() -> None:
        async with app.router.lifespan_context(app):
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/api/v1/ingest",
                "raw_path": b"/api/v1/ingest",
                "query_string": b"",
                "root_path": "",
                "headers": [(b"x-api-key", local_api_key(settings).encode()), *headers],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
            }
            await app(scope, receive, send)

    anyio.run(run)
    body = answer.get("body")
    return answer.get("status"), json.loads(body) if body else None


BODY = json.dumps([event("asgi-1")]).encode()


# Starlette decodes header values as latin-1: b"\xb9" is "¹", a digit to str.isdigit().
@pytest.mark.parametrize("length", [b"\xb9", b"1\xb2", b"\xb3\xb3", b"12 ", b"-1", b""])
def test_a_content_length_that_is_not_ascii_digits_is_a_400(
    settings: Settings, length: bytes, caplog: pytest.LogCaptureFixture, published: Published
) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", length)]
    with caplog.at_level(logging.ERROR):
        status, body = call(settings, headers, [{"type": "http.request", "body": BODY}])
    assert status == 400, body
    assert body is not None
    assert body["error"]["code"] == "bad_content_length"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert published() == []


def test_a_client_gone_mid_body_is_a_400_and_nothing_is_published(
    settings: Settings, caplog: pytest.LogCaptureFixture, published: Published
) -> None:
    headers = [(b"content-type", b"application/json"), (b"idempotency-key", b"gone-1")]
    half = [
        {"type": "http.request", "body": BODY[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    with caplog.at_level(logging.ERROR):
        status, body = call(settings, headers, half)
    assert status == 400, body
    assert body is not None
    assert body["error"]["code"] == "client_disconnected"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    # The key was never claimed: the client's retry with the whole body is taken.
    whole = [{"type": "http.request", "body": BODY}]
    status, body = call(settings, headers, whole)
    assert status == 202, body
    assert len(published()) == 1
