"""AWS failing under a running API and consumer: S3 answering 500s, slowly, or cutting uploads
off midway; Glue losing the answer to a commit it made; Kinesis throttling.

The API and the consumer talk to the moto server through ``FaultProxy`` (tests/faults/proxy.py):
the Glue catalog, S3 and Kinesis all by the settings' endpoints, as in production but for the
URL. What a user notices is asserted: every event the API acknowledged (202) is once in the
table, nothing twice, the consumer still running, and /health and /metrics saying that the
consumer fails while the fault lasts, and no longer once it has cleared.
"""

from __future__ import annotations

import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.exceptions import NoSuchTableError

from eventlake.api.auth import local_api_key
from eventlake.config import ConsumerSettings, Settings
from eventlake.consumer import consume
from eventlake.lake import Lake
from eventlake.state import open_state
from tests.aws import AwsEnv, MotoServer, aws_settings
from tests.faults.proxy import Fault, FaultProxy

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient", category=Warning)
from fastapi.testclient import TestClient  # noqa: E402

from eventlake.api.app import create_app  # noqa: E402

DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_server.endpoint_url)
    yield proxy
    proxy.close()


@dataclass
class Stack:
    """The API (in-process, real HTTP semantics through TestClient) and a consumer thread,
    both on AWS through the proxy; ``lake`` reads the table straight from moto."""

    settings: Settings
    api: TestClient
    key: str
    lake: Lake
    proxy: FaultProxy
    stop: threading.Event
    consumer: threading.Thread

    def send(self, first: int, count: int, *, day: str = "2026-11-20") -> set[str]:
        """``count`` events in one request, retried (same Idempotency-Key) while the API
        answers 503, as a client would: the ids the API acknowledged."""
        ids = [f"e{i:05d}" for i in range(first, first + count)]
        body = [
            {
                "event_id": event_id,
                "user_id": f"u{int(event_id[1:]) % 7}",
                "event_type": "page_view",
                "event_timestamp": f"{day}T10:00:00Z",
            }
            for event_id in ids
        ]
        headers = {"X-API-Key": self.key, "Idempotency-Key": f"k-{first}-{count}"}
        deadline = time.monotonic() + DEADLINE_S
        while True:
            answer = self.api.post("/api/v1/ingest", json=body, headers=headers)
            if answer.status_code != 503:
                break
            assert "Retry-After" in answer.headers
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == count
        return set(ids)

    def landed(self) -> list[str]:
        try:
            table = self.lake.table("events")
        except NoSuchTableError:  # the consumer has not created it yet
            return []
        return list(table.scan(selected_fields=("event_id",)).to_arrow()["event_id"].to_pylist())

    def wait_landed(self, expected: set[str]) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not expected <= set(self.landed()):
            assert self.consumer.is_alive(), "the consumer stopped"
            assert time.monotonic() < deadline, f"{len(expected - set(self.landed()))} missing"
            time.sleep(0.3)

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert self.consumer.is_alive(), "the consumer stopped"
            assert time.monotonic() < deadline, f"waited {DEADLINE_S:g} s for {what}"
            time.sleep(0.2)

    def failing(self) -> list[dict[str, Any]]:
        """What /health says of the consumers (and checks that /metrics agrees)."""
        health = self.api.get("/api/v1/health").json()
        scrape = self.api.get("/metrics").text
        failing = health["consumers_failing"]
        for fault in failing:
            assert f'consumer="{fault["consumer"]}"' in scrape
        if not failing:
            assert "eventlake_consumer_failed_batches{" not in scrape
        return list(failing)


@pytest.fixture
def stack(
    moto_server: MotoServer,
    proxy: FaultProxy,
    aws_env: AwsEnv,
    tmp_path: Path,
) -> Iterator[Stack]:
    proxy.clear()
    direct = AwsEnv(moto_server.endpoint_url, aws_env.region, aws_env.bucket, aws_env.database)
    direct.client("s3").create_bucket(Bucket=aws_env.bucket)
    faulty = AwsEnv(proxy.url, aws_env.region, aws_env.bucket, aws_env.database)
    settings = aws_settings(faulty, tmp_path / "home").model_copy(
        update={
            "stream": Settings.model_validate(
                {
                    "stream": {
                        "name_prefix": f"f{uuid.uuid4().hex[:10]}",
                        "backend": {"kind": "kinesis", "endpoint_url": proxy.url, "shards": 2},
                    }
                }
            ).stream,
            "consumer": ConsumerSettings(
                max_batch_seconds=0.2,
                poll_seconds=0.05,
                lease_seconds=5,
                lease_renew_seconds=0.5,
                retry_seconds=0.2,
                retry_max_seconds=1.0,
            ),
        }
    )
    lake = Lake(aws_settings(direct, tmp_path / "home"))
    api = TestClient(create_app(settings))
    api.__enter__()
    stop = threading.Event()
    consumer = threading.Thread(
        target=consume, args=(settings,), kwargs={"datasets": ["events"], "stop": stop}
    )
    stack = Stack(settings, api, local_api_key(settings), lake, proxy, stop, consumer)
    try:
        first = stack.send(0, 10)  # creates the stream (through the API) before the consumer
        consumer.start()
        stack.wait_landed(first)
        yield stack
    finally:
        proxy.clear()
        stop.set()
        consumer.join(timeout=30)
        api.__exit__(None, None, None)


def exactly_once(stack: Stack, acknowledged: set[str]) -> None:
    landed = stack.landed()
    assert len(landed) == len(set(landed)), "an event landed twice"
    assert set(landed) == acknowledged


def test_s3_errors_and_cut_uploads_during_commits_land_everything_once(stack: Stack) -> None:
    acknowledged = {f"e{i:05d}" for i in range(10)}
    # S3 refuses every upload for a while: data files, manifests, metadata (pyarrow retries
    # each a few times, then the batch fails and the consumer starts over with backoff).
    refusing = stack.proxy.add(Fault("status", s3=True, method="PUT", status=500))
    acknowledged |= stack.send(100, 100)  # the API does not touch S3: it still takes data
    state = open_state(stack.settings.state_database_url)
    try:
        stack.wait_for(
            lambda: any(f["failed_batches"] >= 2 for f in state.consumer_faults()),
            "two failed batches in a row",
        )
    finally:
        state.close()
    failing = stack.failing()
    assert len(failing) == 1
    assert "InternalError" in failing[0]["last_error"] or "500" in failing[0]["last_error"]
    assert stack.api.get("/api/v1/health").status_code == 200  # the API is still ready
    assert refusing.fired > 0

    # Then uploads cut off midway (a connection reset after 1 KB of the body), and S3 slow.
    stack.proxy.remove(refusing)
    cut = stack.proxy.add(Fault("drop_request", s3=True, method="PUT", after_bytes=1024, limit=2))
    slow = stack.proxy.add(Fault("delay", s3=True, delay_s=0.1, limit=20))
    stack.wait_landed(acknowledged)
    assert cut.fired > 0
    assert slow.fired > 0
    stack.wait_for(lambda: not stack.failing(), "the consumer to say it recovered")

    # Glue makes a commit and the answer is lost (the outcome unknown to the consumer): the
    # writer finds its commit in the table's history instead of committing it again.
    lost = stack.proxy.add(Fault("drop_response", target_contains="UpdateTable", limit=1))
    acknowledged |= stack.send(200, 50)
    stack.wait_landed(acknowledged)
    assert lost.fired == 1
    assert stack.consumer.is_alive()
    exactly_once(stack, acknowledged)
