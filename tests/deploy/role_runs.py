"""Each role's real code run against a recording moto server, under an access key id of its
own, so that the server's call log says which AWS operations each role's process makes.

The roles' processes as they run on ECS (the settings are the production ones, pointed at
moto): the API publishes to Kinesis and answers its health check; a consumer lands the
streams in a Glue-catalog lake on S3; the batch role runs the DAG tasks that touch AWS; the
dashboard reads the warehouse (Snowflake in production) and the state database, not AWS.
Infrastructure that Terraform creates (the streams, the buckets, the Glue database) is created
here first under a setup key, which no role's policy is checked against.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlake.config import Settings
from eventlake.contracts import DATASETS

SETUP_KEY = "AKIDSETUP"
ROLE_KEYS = {
    "api": "AKIDAPITASK",
    "consumer": "AKIDCONSUMERTASK",
    "batch": "AKIDBATCHTASK",
    "dashboard": "AKIDDASHBOARDTASK",
}
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
LAKE_PREFIX = "lake"
LANDING_PREFIX = "landing"
API_KEY = "iam-test:iam-test-secret"


@dataclass(frozen=True)
class Deployment:
    """The names Terraform would give: what the roles' settings and policies point at."""

    endpoint_url: str
    name_prefix: str
    lake_bucket: str
    landing_bucket: str
    database: str
    home: Path

    def stream_names(self) -> list[str]:
        return [f"{self.name_prefix}-{dataset}" for dataset in DATASETS]

    def settings(self, role: str, **changes: Any) -> Settings:
        """A role's settings: what its ECS task's EVENTLAKE_* environment says."""
        values: dict[str, Any] = {
            "home": self.home / role,
            "api_keys": API_KEY,
            # RDS in production; not AWS's API either way.
            "state_url": f"sqlite:///{self.home / 'state.db'}",
            "stream": {
                "name_prefix": self.name_prefix,
                "backend": {
                    "kind": "kinesis",
                    "region": REGION,
                    "endpoint_url": self.endpoint_url,
                    # Terraform creates the streams; a role never does.
                    "create_missing": False,
                },
            },
            "lake": {
                "namespace": self.database,
                "catalog": {
                    "kind": "glue",
                    "warehouse": f"s3://{self.lake_bucket}/{LAKE_PREFIX}",
                    "region": REGION,
                    "glue_endpoint": self.endpoint_url,
                    "s3_endpoint": self.endpoint_url,
                },
            },
            # Production's warehouse is Snowflake: dbt, the gates and the dashboard read it,
            # not the lake's files.
            "warehouse": {"target": "prod"},
            "landing_uri": f"s3://{self.landing_bucket}/{LANDING_PREFIX}",
            "landing_endpoint_url": self.endpoint_url,
            "consumer": {"max_batch_seconds": 0.2, "poll_seconds": 0.05},
        }
        values.update(changes)
        return Settings.model_validate(values)


@contextmanager
def credentials(key_id: str) -> Iterator[None]:
    """The AWS credential chain's environment set to ``key_id`` while the block runs: every
    client (boto3, pyarrow's S3) built inside it signs with that key. boto3's default session
    (``boto3.client``) keeps the credentials it resolved first, as a process would: it is
    dropped on the way in and out, as if each role were a process of its own."""
    import boto3

    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any secret
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )
    boto3.DEFAULT_SESSION = None
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = None
        _close_shared_streams()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _close_shared_streams() -> None:
    """What a process's end does to the Kinesis clients it shares (eventlake.stream's cache):
    a consumer leaves its stream handles open (DatasetConsumer.close does not close them),
    and the next role must not publish through a client signed with this role's key."""
    import eventlake.stream as streams

    with streams._cache_lock:
        left = list(streams._shared.values())
        streams._shared.clear()
    for stream, _holders in left:
        stream.close()


def _client(deployment: Deployment, service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=deployment.endpoint_url, region_name=REGION)


def set_up(deployment: Deployment) -> None:
    """What Terraform creates: the buckets, one stream per dataset, the Glue database."""
    with credentials(SETUP_KEY):
        s3 = _client(deployment, "s3")
        for bucket in (deployment.lake_bucket, deployment.landing_bucket):
            s3.create_bucket(Bucket=bucket)
        kinesis = _client(deployment, "kinesis")
        for name in deployment.stream_names():
            kinesis.create_stream(StreamName=name, ShardCount=2)
        _client(deployment, "glue").create_database(DatabaseInput={"Name": deployment.database})
        deployment.home.mkdir(parents=True, exist_ok=True)


def _events(first: int, count: int, day: str = "2026-11-20") -> bytes:
    return "\n".join(
        json.dumps(
            {
                "event_id": f"iam-{i}",
                "user_id": f"u{i % 7}",
                "event_type": "page_view",
                "event_timestamp": f"{day}T10:{i % 60:02d}:00Z",
                "properties": {"page": "/"},
            }
        )
        for i in range(first, first + count)
    ).encode()


def run_api(deployment: Deployment) -> None:
    """The ingest API in-process: a health check, then batches published to Kinesis."""
    warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient", category=Warning)
    from fastapi.testclient import TestClient

    from eventlake.api.app import create_app

    settings = deployment.settings("api")
    headers = {"X-API-Key": API_KEY.split(":")[1], "Content-Type": "application/x-ndjson"}
    with credentials(ROLE_KEYS["api"]), TestClient(create_app(settings)) as client:
        # Its first catalog probe opens the Glue client, which a loaded machine can take
        # longer than the health check's 5 s to do: asked again until ready.
        health = client.get("/api/v1/health")
        deadline = time.monotonic() + 60
        while health.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            health = client.get("/api/v1/health")
        assert health.status_code == 200, health.text
        for batch in range(3):
            answer = client.post(
                "/api/v1/ingest?dataset=events", content=_events(100 * batch, 40), headers=headers
            )
            assert answer.status_code == 202, answer.text


def run_consumer(deployment: Deployment) -> None:
    """`eventlake consume` (the ECS service's loop) until the API's events are in the lake,
    then a commit that loses its race to a twin consumer (a lease taken over mid-batch): the
    writer deletes the files it wrote (lake/writer.py, ``_commit_files``)."""
    from eventlake.consumer import consume
    from eventlake.lake import Lake, SequenceRange, writer

    settings = deployment.settings("consumer")
    with credentials(ROLE_KEYS["consumer"]):
        stop = threading.Event()
        landed: list[int] = []
        thread = threading.Thread(
            target=consume,
            args=(settings,),
            kwargs={"stop": stop, "on_batch": lambda batch: landed.append(batch.landed)},
        )
        thread.start()
        try:
            _wait_for(lambda: sum(landed) >= 120, "the consumer to land 120 events")
        finally:
            stop.set()
            thread.join(timeout=60)
        lake, twin = Lake(settings), Lake(settings)
        rows = lake.table("events").scan(limit=10).to_arrow()
        ranges = {"race-test-shard": SequenceRange(1, 10)}
        write = writer._write_data_files

        def twin_commits_first(*args: Any, **kwargs: Any) -> Any:
            written = write(*args, **kwargs)
            writer._write_data_files = write  # the twin writes as usual
            twin.commit("events", rows, ranges=ranges)
            return written

        writer._write_data_files = twin_commits_first
        try:
            lost = lake.commit("events", rows, ranges=ranges)
        finally:
            writer._write_data_files = write
        assert lost.skipped, lost
        assert lost.attempts == 1, lost


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def run_batch(deployment: Deployment) -> None:
    """The DAG tasks that touch AWS, as `eventlake task <name>` runs them on ECS: ingest_data
    from the S3 landing prefix (a good file and a refused one), process_with_rust (a drain),
    catalog_data, compact_lake, and the quality gate's lake count."""
    from eventlake.pipeline import tasks
    from eventlake.quality.sources import count_lake_events

    settings = deployment.settings("batch")
    with credentials(SETUP_KEY):  # files dropped by whoever delivers them
        s3 = _client(deployment, "s3")
        s3.put_object(
            Bucket=deployment.landing_bucket,
            Key=f"{LANDING_PREFIX}/events/drop-1.ndjson",
            Body=_events(1000, 50),  # the same day: its partition gets a second file
        )
        s3.put_object(
            Bucket=deployment.landing_bucket,
            Key=f"{LANDING_PREFIX}/events/notes.txt",
            Body=b"not a landing format",
        )
    with credentials(ROLE_KEYS["batch"]):
        ingested = tasks.ingest_data(settings)
        assert ingested["accepted"] == 50, ingested
        assert len(ingested["refused"]) == 1, ingested
        processed = tasks.process_with_rust(settings)
        assert processed["datasets"]["events"]["landed"] >= 50, processed
        catalogued = tasks.catalog_data(settings)
        assert catalogued["tables"]["events"]["rows"] >= 170, catalogued
        compacted = tasks.compact_lake(settings)
        assert compacted["tables"]["events"]["files_removed"] > 0, compacted
        assert count_lake_events(settings) is not None


def run_dashboard(deployment: Deployment) -> None:
    """The dashboard's pipeline-health reads (the state database, the reports folder); its
    charts read Snowflake's marts, which are not AWS calls."""
    from eventlake.dashboard import health

    settings = deployment.settings("dashboard")
    with credentials(ROLE_KEYS["dashboard"]):
        assert health.read_state(settings) is not None
        health.read_quality_summary(settings)
        health.report_sites(settings)


ROLES: dict[str, Callable[[Deployment], None]] = {
    "api": run_api,
    "consumer": run_consumer,
    "batch": run_batch,
    "dashboard": run_dashboard,
}
