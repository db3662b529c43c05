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
from contextlib import contextmanager
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


def event(event_id: str, day: str = "2026-11-20") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_id": f"u{int(event_id[1:]) % 7}",
        "event_type": "page_view",
        "event_timestamp": f"{day}T10:00:00Z",
    }


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
        body = [event(event_id, day) for event_id in ids]
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
        """The consumers /health says are failing."""
        return list(self.api.get("/api/v1/health").json()["consumers_failing"])

    def scraped_failing(self) -> dict[str, float]:
        """eventlake_consumer_failed_batches by consumer, from /metrics."""
        found = {}
        for line in self.api.get("/metrics").text.splitlines():
            if line.startswith("eventlake_consumer_failed_batches{"):
                labels, value = line.rsplit(" ", 1)
                found[labels.split('consumer="')[1].split('"')[0]] = float(value)
        return found


KINESIS_RETRIES = {"retry_attempts": 2, "retry_seconds": 0.05, "retry_max_seconds": 0.2}
CONSUMER = ConsumerSettings(
    max_batch_seconds=0.2,
    poll_seconds=0.05,
    lease_seconds=5,
    lease_renew_seconds=0.5,
    retry_seconds=0.2,
    retry_max_seconds=1.0,
)


def kinesis_through(proxy: FaultProxy, **retries: Any) -> Any:
    """Stream settings: a fresh Kinesis stream per test, reached through the proxy."""
    backend = {"kind": "kinesis", "endpoint_url": proxy.url, "shards": 2, **retries}
    stream = {"name_prefix": f"f{uuid.uuid4().hex[:10]}", "backend": backend}
    return Settings.model_validate({"stream": stream}).stream


@contextmanager
def running(settings: Settings, lake: Lake, proxy: FaultProxy) -> Iterator[Stack]:
    """The API and a consumer thread on ``settings``, with a first request landed."""
    proxy.clear()
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


@pytest.fixture
def on_aws(
    moto_server: MotoServer, proxy: FaultProxy, aws_env: AwsEnv, tmp_path: Path
) -> Iterator[Stack]:
    """Glue, S3 and Kinesis through the proxy; the test reads the lake straight from moto."""
    direct = AwsEnv(moto_server.endpoint_url, aws_env.region, aws_env.bucket, aws_env.database)
    direct.client("s3").create_bucket(Bucket=aws_env.bucket)
    faulty = AwsEnv(proxy.url, aws_env.region, aws_env.bucket, aws_env.database)
    settings = aws_settings(faulty, tmp_path / "home").model_copy(
        update={"stream": kinesis_through(proxy), "consumer": CONSUMER}
    )
    with running(settings, Lake(aws_settings(direct, tmp_path / "home")), proxy) as stack:
        yield stack


@pytest.fixture
def on_kinesis(proxy: FaultProxy, aws_env: AwsEnv, tmp_path: Path) -> Iterator[Stack]:
    """Kinesis through the proxy, with short throttling retries; the lake local (fast)."""
    settings = Settings(
        home=tmp_path / "home", stream=kinesis_through(proxy, **KINESIS_RETRIES), consumer=CONSUMER
    )
    with running(settings, Lake(settings), proxy) as stack:
        yield stack


def exactly_once(stack: Stack, acknowledged: set[str]) -> None:
    landed = stack.landed()
    assert len(landed) == len(set(landed)), "an event landed twice"
    assert set(landed) == acknowledged


def test_s3_errors_and_cut_uploads_during_commits_land_everything_once(on_aws: Stack) -> None:
    stack = on_aws
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
    assert stack.scraped_failing()[failing[0]["consumer"]] >= 2
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
    stack.wait_for(
        lambda: not stack.failing() and not stack.scraped_failing(),
        "the consumer to say it recovered",
    )

    # Glue makes a commit and the answer is lost (the outcome unknown to the consumer): the
    # writer finds its commit in the table's history instead of committing it again.
    lost = stack.proxy.add(Fault("drop_response", target_contains="UpdateTable", limit=1))
    acknowledged |= stack.send(200, 50)
    stack.wait_landed(acknowledged)
    assert lost.fired == 1
    assert stack.consumer.is_alive()
    exactly_once(stack, acknowledged)


def test_kinesis_throttling_delays_but_loses_and_duplicates_nothing(on_kinesis: Stack) -> None:
    stack = on_kinesis
    acknowledged = {f"e{i:05d}" for i in range(10)}
    # Under load: a share of each PutRecords' entries refused (a 200 with failed entries),
    # a share of GetRecords calls throttled. The API retries the refused entries and answers
    # 202; the consumer's reads back off.
    entries = stack.proxy.add(Fault("throttle_entries", target_contains="PutRecords"))
    reads = stack.proxy.add(Fault("status", status=400, target_contains="GetRecords", share=0.5))
    for first in range(100, 300, 40):
        acknowledged |= stack.send(first, 40)
    stack.wait_landed(acknowledged)
    assert entries.fired > 0
    assert reads.fired > 0

    # Throttled for longer than the API's tries: 503 with Retry-After, and the client's retry
    # with the same Idempotency-Key is taken once the throttling ends.
    stack.proxy.clear()
    every_put = stack.proxy.add(Fault("status", status=400, target_contains="PutRecords"))
    body = [event(f"e{i:05d}") for i in range(300, 340)]
    headers = {"X-API-Key": stack.key, "Idempotency-Key": "throttled"}
    began = time.monotonic()
    refused = stack.api.post("/api/v1/ingest", json=body, headers=headers)
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    # Within the stream settings' tries (2, pauses of at most 0.2 s), not botocore's on top.
    assert time.monotonic() - began < 3.0
    assert every_put.fired > 0
    stack.proxy.clear()
    taken = stack.api.post("/api/v1/ingest", json=body, headers=headers)
    assert taken.status_code == 202, taken.text
    acknowledged |= {e["event_id"] for e in body}

    # The consumer's reads throttled for longer than its tries: its batches fail, /health
    # says so, and once the throttling ends it lands the rest.
    every_read = stack.proxy.add(Fault("status", status=400, target_contains="GetRecords"))
    acknowledged |= stack.send(400, 40)
    stack.wait_for(lambda: bool(stack.failing()), "/health to name the failing consumer")
    failing = stack.failing()
    assert "throttled" in failing[0]["last_error"]
    assert failing[0]["consumer"] in stack.scraped_failing()
    stack.proxy.remove(every_read)
    stack.wait_landed(acknowledged)
    stack.wait_for(
        lambda: not stack.failing() and not stack.scraped_failing(),
        "the consumer to say it recovered",
    )
    assert every_read.fired > 0
    exactly_once(stack, acknowledged)
