"""AWS failing under a running API and consumer: S3 answering 500s, slowly, or cutting uploads
off midway; Glue losing the answer to a commit it made; Kinesis throttling.

The API and the consumer talk to the moto server through ``FaultProxy`` (tests/faults/proxy.py):
the Glue catalog, S3 and Kinesis all by the settings' endpoints, as in production but for the
URL. What a user notices is asserted: every event the API acknowledged (202) is once in the
table, nothing twice, the consumer still running, and /health and /metrics saying that the
consumer fails while the fault lasts, and no longer once it has cleared.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventlake.config import GlueCatalogSettings, Settings
from eventlake.lake import Lake
from eventlake.state import open_state
from tests.aws import AwsEnv, MotoServer, aws_settings
from tests.faults.proxy import Fault, FaultProxy
from tests.faults.stack import CONSUMER, Stack, event, exactly_once, running


@pytest.fixture(scope="module")
def proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_server.endpoint_url)
    yield proxy
    proxy.close()


KINESIS_RETRIES = {"retry_attempts": 2, "retry_seconds": 0.05, "retry_max_seconds": 0.2}


def kinesis_through(proxy: FaultProxy, **retries: Any) -> Any:
    """Stream settings: a fresh Kinesis stream per test, reached through the proxy."""
    backend = {"kind": "kinesis", "endpoint_url": proxy.url, "shards": 2, **retries}
    stream = {"name_prefix": f"f{uuid.uuid4().hex[:10]}", "backend": backend}
    return Settings.model_validate({"stream": stream}).stream


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
    assert isinstance(settings.lake.catalog, GlueCatalogSettings)
    settings.lake.catalog.glue_max_retries = 1  # a Glue outage fails a batch in a second
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


def test_s3_errors_and_cut_uploads_during_commits_land_everything_once(
    on_aws: Stack, proxy: FaultProxy
) -> None:
    stack = on_aws
    acknowledged = {f"e{i:05d}" for i in range(10)}
    # S3 refuses every upload for a while: data files, manifests, metadata (pyarrow retries
    # each a few times, then the batch fails and the consumer starts over with backoff).
    refusing = proxy.add(Fault("status", s3=True, method="PUT", status=500))
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
    proxy.remove(refusing)
    cut = proxy.add(Fault("drop_request", s3=True, method="PUT", after_bytes=1024, limit=2))
    slow = proxy.add(Fault("delay", s3=True, delay_s=0.1, limit=20))
    stack.wait_landed(acknowledged)
    assert cut.fired > 0
    assert slow.fired > 0
    stack.wait_for(
        lambda: not stack.failing() and not stack.scraped_failing(),
        "the consumer to say it recovered",
    )

    # The Glue catalog unreachable (503 to every call) for a while: /health says the catalog
    # fails (not ready) and names the failing consumer; both recover when Glue answers again.
    glue_down = proxy.add(Fault("status", status=503, target_contains="AWSGlue"))
    acknowledged |= stack.send(300, 30)
    stack.wait_for(
        lambda: glue_down.fired > 0 and bool(stack.failing()), "the consumer to fail on Glue"
    )
    health = stack.api.get("/api/v1/health")
    assert health.status_code == 503
    assert not health.json()["checks"]["catalog"]["ok"]
    proxy.remove(glue_down)
    stack.wait_landed(acknowledged)
    stack.wait_for(
        lambda: stack.api.get("/api/v1/health").status_code == 200 and not stack.failing(),
        "the catalog check and the consumer to recover",
    )

    # Glue makes a commit and the answer is lost (the outcome unknown to the consumer): the
    # writer finds its commit in the table's history instead of committing it again.
    lost = proxy.add(Fault("drop_response", target_contains="UpdateTable", limit=1))
    acknowledged |= stack.send(200, 50)
    stack.wait_landed(acknowledged)
    assert lost.fired == 1
    assert stack.consumer.is_alive()
    exactly_once(stack, acknowledged)


def test_kinesis_throttling_delays_but_loses_and_duplicates_nothing(
    on_kinesis: Stack, proxy: FaultProxy
) -> None:
    stack = on_kinesis
    acknowledged = {f"e{i:05d}" for i in range(10)}
    # Under load: a share of each PutRecords' entries refused (a 200 with failed entries),
    # a share of GetRecords calls throttled. The API retries the refused entries and answers
    # 202; the consumer's reads back off.
    entries = proxy.add(Fault("throttle_entries", target_contains="PutRecords"))
    reads = proxy.add(Fault("status", status=400, target_contains="GetRecords", share=0.5))
    for first in range(100, 300, 40):
        acknowledged |= stack.send(first, 40)
    stack.wait_landed(acknowledged)
    assert entries.fired > 0
    assert reads.fired > 0

    # Throttled for longer than the API's tries: 503 with Retry-After, and the client's retry
    # with the same Idempotency-Key is taken once the throttling ends.
    proxy.clear()
    every_put = proxy.add(Fault("status", status=400, target_contains="PutRecords"))
    body = [event(f"e{i:05d}") for i in range(300, 340)]
    headers = {"X-API-Key": stack.key, "Idempotency-Key": "throttled"}
    began = time.monotonic()
    refused = stack.api.post("/api/v1/ingest", json=body, headers=headers)
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    # Within the stream settings' tries (2, pauses of at most 0.2 s), not botocore's on top.
    assert time.monotonic() - began < 3.0
    assert every_put.fired > 0
    proxy.clear()
    taken = stack.api.post("/api/v1/ingest", json=body, headers=headers)
    assert taken.status_code == 202, taken.text
    acknowledged |= {e["event_id"] for e in body}

    # The consumer's reads throttled for longer than its tries: its batches fail, /health
    # says so, and once the throttling ends it lands the rest.
    stack.wait_for(lambda: not stack.failing(), "the failures of the first phase to clear")
    every_read = proxy.add(Fault("status", status=400, target_contains="GetRecords"))
    acknowledged |= stack.send(400, 40)
    stack.wait_for(
        lambda: every_read.fired > 0 and bool(stack.failing()),
        "/health to name the failing consumer",
    )
    failing = stack.failing()
    assert "throttled" in failing[0]["last_error"]
    assert failing[0]["consumer"] in stack.scraped_failing()
    proxy.remove(every_read)
    stack.wait_landed(acknowledged)
    stack.wait_for(
        lambda: not stack.failing() and not stack.scraped_failing(),
        "the consumer to say it recovered",
    )
    assert every_read.fired > 0
    exactly_once(stack, acknowledged)
