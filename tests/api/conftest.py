"""The real app on the embedded stream and a SQLite state database, in the test's own
EVENTLAKE_HOME (see the autouse fixture in tests/conftest.py)."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

# starlette's TestClient still runs on httpx and says so on import; nothing to act on here.
warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient", category=Warning)

from fastapi.testclient import TestClient  # noqa: E402

from eventlake.api.app import create_app  # noqa: E402
from eventlake.api.auth import local_api_key  # noqa: E402
from eventlake.config import Settings, get_settings  # noqa: E402
from eventlake.stream import open_stream  # noqa: E402
from eventlake.stream.envelope import Envelope, decode  # noqa: E402
from tests.ports import free_port  # noqa: E402

OK_EVENT: dict[str, Any] = {
    "user_id": "u-1",
    "event_type": "page_view",
    "event_timestamp": "2026-11-01T12:00:00Z",
    "event_value": None,
    "product_id": None,
    "properties": {"page": "/"},
}


def event(event_id: str | None = "e-1", **changes: Any) -> dict[str, Any]:
    """A valid event (without an event_id when ``event_id`` is None)."""
    record = {**OK_EVENT, **changes}
    return record if event_id is None else {"event_id": event_id, **record}


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Start an app for any settings; every client is closed (lifespan ended) at teardown."""
    clients: list[TestClient] = []

    def make(settings: Settings | None = None, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(settings or get_settings()), **kwargs)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient], settings: Settings) -> TestClient:
    return make_client(settings)


@pytest.fixture
def auth(client: TestClient, settings: Settings) -> dict[str, str]:
    """The header with the key the app generated for this EVENTLAKE_HOME."""
    return {"X-API-Key": local_api_key(settings)}


@pytest.fixture
def published(settings: Settings) -> Callable[[str], list[tuple[Envelope, bytes]]]:
    """Read every record of a dataset's stream back, decoded."""

    def read(dataset: str = "events") -> list[tuple[Envelope, bytes]]:
        stream = open_stream(settings, dataset)
        stream.ensure()
        out = []
        for shard in stream.shards():
            batch = stream.reader(shard.shard_id, None).read(10_000)
            for record in batch.records:
                out.append(decode(record.data, max_body_bytes=1 << 30))
        return out

    return read


@pytest.fixture
def serve() -> Iterator[Callable[[Settings], httpx.Client]]:
    """Start the app for some settings in uvicorn; an httpx client on it."""
    started: list[tuple[uvicorn.Server, threading.Thread, httpx.Client]] = []

    def start(settings: Settings) -> httpx.Client:
        port = free_port()
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        started.append((server, thread, client))
        return client

    yield start
    for server, thread, client in started:
        client.close()
        server.should_exit = True
        thread.join(30)
