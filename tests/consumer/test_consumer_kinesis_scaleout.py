"""Scale-out on Kinesis, the issue's shape: a 4-shard stream on the moto server (with Kinesis's
reshard semantics, ``tests/moto_server.py``), the Iceberg catalog and the state database
(jobs, leases, windows) on a real PostgreSQL, events sent over HTTP to ``eventlake serve``
with cross-request duplicates and broken records, three ``eventlake consume`` processes, one
killed with -9 mid-stream, one added, a shard split mid-run and more events after it. At the
end every valid event is in the table once, every broken one in the dead-letter table once,
and the split parent was finished before its children were read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from eventlake.config import Settings
from eventlake.consumer import position_key
from eventlake.lake import DEAD_LETTER_TABLE, Lake
from eventlake.pipeline.supervisor import wait_for_api
from eventlake.state import open_state
from eventlake.stream import open_stream
from tests.aws import REGION, AwsEnv
from tests.ports import free_port
from tests.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]  # the fixtures, for this module's tests

pytestmark = pytest.mark.slow

EVENTLAKE = [sys.executable, "-m", "eventlake.cli"]
KEY = "scaleout-secret-key-0123456789"
DEADLINE_S = 90.0  # for each wait: generous for a loaded 2-core machine, never slept through
RANGES = "eventlake.ranges"  # a snapshot's summary: the stream positions it commits


@pytest.fixture
def env(aws_env: AwsEnv, postgres_url: str, tmp_path: Path) -> dict[str, str]:
    """Settings for every process (the API, the consumers, this test), as environment."""
    return {
        **os.environ,  # aws_env's credentials
        "EVENTLAKE_HOME": str(tmp_path / "home"),
        "EVENTLAKE_STATE_URL": postgres_url,
        "EVENTLAKE_LAKE__CATALOG__URI": postgres_url,
        "EVENTLAKE_STREAM__NAME_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "EVENTLAKE_STREAM__BACKEND__KIND": "kinesis",
        "EVENTLAKE_STREAM__BACKEND__REGION": REGION,
        "EVENTLAKE_STREAM__BACKEND__ENDPOINT_URL": aws_env.endpoint_url,
        "EVENTLAKE_STREAM__BACKEND__SHARDS": "4",
        "EVENTLAKE_API_KEYS": f"t:{KEY}",
        # Small, frequent batches: more commits for the kill and the split to land between.
        "EVENTLAKE_CONSUMER__MAX_BATCH_SECONDS": "0.1",
        "EVENTLAKE_CONSUMER__READ_LIMIT": "5",
        # A killed consumer's leases expire soon; long enough for a commit on a busy machine.
        "EVENTLAKE_CONSUMER__LEASE_SECONDS": "2",
        "EVENTLAKE_CONSUMER__LEASE_RENEW_SECONDS": "0.4",
    }


@pytest.fixture
def api(env: dict[str, str], tmp_path: Path) -> Iterator[httpx.Client]:
    """A client of ``eventlake serve`` on a loopback port (its log in api.log, for a failure)."""
    port = free_port()
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*EVENTLAKE, "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=30)
    try:
        wait_for_api(url, server, timeout=60)
        yield client
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=30)


def _event(event_id: str, event_type: str = "purchase") -> dict[str, object]:
    return {
        "event_id": event_id,
        "user_id": f"u{event_id[-1]}",
        "event_type": event_type,
        "event_timestamp": "2026-11-20T10:00:00Z",
    }


def _send(client: httpx.Client, phase: str, requests: int, repeat: list[str]) -> list[str]:
    """``requests`` NDJSON requests of 10 events, one of them broken (a type the contract
    does not know), every third also carrying three ids sent before (of this phase or of
    ``repeat``): duplicates across requests. The job ids."""
    jobs = []
    for r in range(requests):
        lines = [_event(f"{phase}{r}-{i}", "teleport" if i == 0 else "purchase") for i in range(10)]
        if r % 3 == 2:
            earlier = repeat + [f"{phase}{r - 1}-{i}" for i in range(1, 10)]
            lines += [_event(earlier[(7 * r + k) % len(earlier)], "login") for k in range(3)]
        answer = client.post(
            "/api/v1/ingest",
            content="\n".join(json.dumps(line) for line in lines).encode(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert answer.status_code == 202, answer.text
        jobs.append(answer.json()["job_id"])
    return jobs


def _probe(client: httpx.Client, name: str) -> set[str]:
    """One request of 40 new events: the shards its parts landed on (the job's status)."""
    answer = client.post("/api/v1/ingest", json=[_event(f"{name}-{i}") for i in range(40)])
    assert answer.status_code == 202, answer.text
    status = client.get(f"/api/v1/status/{answer.json()['job_id']}").json()
    return {part["shard_id"] for part in status["parts"]}


def _wait(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def test_consumers_that_come_and_go_across_a_kinesis_reshard_land_every_event_once(
    env: dict[str, str],
    aws_env: AwsEnv,
    api: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = api
    for name, value in env.items():
        if name.startswith("EVENTLAKE_"):
            monkeypatch.setenv(name, value)
    settings = Settings()
    stream = open_stream(settings, "events")
    stream.ensure()
    state = open_state(settings.state_database_url)
    lake = Lake(settings)
    group = f"{settings.lake.namespace}.events"

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*EVENTLAKE, "consume", "--dataset", "events"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def ids() -> list[str]:
        if "events" not in lake.table_names():
            return []
        table = lake.table("events")
        table.refresh()
        return table.scan(selected_fields=("event_id",)).to_arrow()["event_id"].to_pylist()

    def holds_a_lease(consumer: subprocess.Popen[bytes]) -> bool:
        leases = state.leases(group, stream.name).values()
        return any(f":{consumer.pid}:" in (lease.owner or "") for lease in leases)

    consumers = [start() for _ in range(3)]
    try:
        # Phase 1, with three consumers sharing the four shards.
        jobs = _send(client, "a", 20, [])
        _wait("the first rows land", lambda: len(ids()) > 0)
        # Phase 2; one consumer killed with -9 while they land it, one added.
        jobs += _send(client, "b", 20, [f"a{r}-{i}" for r in range(20) for i in range(1, 10)])
        consumers[0].send_signal(signal.SIGKILL)
        consumers[0].wait(timeout=30)
        consumers.append(start())
        _wait("the added consumer holds a shard", lambda: holds_a_lease(consumers[-1]))

        # The split, mid-run: the parent closes, its keys go to its two children.
        kinesis = boto3.client("kinesis", region_name=REGION, endpoint_url=aws_env.endpoint_url)
        parent = kinesis.list_shards(StreamName=stream.name)["Shards"][0]
        low = int(parent["HashKeyRange"]["StartingHashKey"])
        high = int(parent["HashKeyRange"]["EndingHashKey"])
        kinesis.split_shard(
            StreamName=stream.name,
            ShardToSplit=parent["ShardId"],
            NewStartingHashKey=str((low + high) // 2),
        )
        children = [
            s["ShardId"]
            for s in kinesis.list_shards(StreamName=stream.name)["Shards"]
            if s.get("ParentShardId") == parent["ShardId"]
        ]
        assert len(children) == 2
        # The API routes by its map of the open shards, listed again when it is old or when a
        # part landed elsewhere than it said. A probe request of 40 new events (never repeated:
        # where they land does not matter) until one is cut into five parts, on both children:
        # an old map (four shards, the parent's keys in one part) cannot do that. Then the
        # repeats after the split go where every copy of their key goes.
        probes = 0
        while not set(children) <= _probe(client, f"p{probes}"):
            probes += 1
            assert probes < 20, "the API never routed to the split's children"
        probes += 1

        # Phase 3: after the split, repeating events of every phase before it.
        before = [f"{p}{r}-{i}" for p in "ab" for r in range(20) for i in range(1, 10)]
        lease_log: list[dict[str, tuple[int, bool]]] = []

        def landed_all() -> bool:
            leases = state.leases(group, stream.name)
            lease_log.append({s: (lease.counter, lease.finished) for s, lease in leases.items()})
            return len(ids()) >= expected_rows

        jobs += _send(client, "c", 20, before)
        expected = set(before) | {f"c{r}-{i}" for r in range(20) for i in range(1, 10)}
        expected |= {f"p{n}-{i}" for n in range(probes) for i in range(40)}
        expected_rows = len(expected)
        _wait("every valid event lands", landed_all)
        _wait(
            "every job is committed",
            lambda: all((state.job(job) or {}).get("status") == "committed" for job in jobs),
        )
    finally:
        for consumer in consumers:
            if consumer.poll() is None:
                consumer.send_signal(signal.SIGTERM)
        for consumer in consumers:
            consumer.wait(timeout=60)
    assert [c.returncode for c in consumers[1:]] == [0, 0, 0]

    landed = ids()
    assert len(landed) == len(set(landed))  # nothing twice ...
    assert set(landed) == expected  # ... nothing lost, duplicates not
    dead = lake.table(DEAD_LETTER_TABLE).scan().to_arrow()
    assert sorted(dead["job_id"].to_pylist()) == sorted(jobs)  # one broken event a request

    # Parents before children: the split parent's lease is finished, and it was so whenever a
    # child's lease had been taken (the lease table sampled while phase 3 landed) ...
    leases = state.leases(group, stream.name)
    assert leases[parent["ShardId"]].finished
    assert all(leases[child].counter > 0 for child in children)
    for sample in lease_log:
        if any(sample.get(child, (0, False))[0] > 0 for child in children):
            assert sample[parent["ShardId"]][1], sample
    # ... and the lake's history agrees: no commit of a child before the parent's last.
    keys = [
        set(json.loads((s.summary.additional_properties if s.summary else {}).get(RANGES, "{}")))
        for s in lake.table("events").snapshots()
    ]
    parent_key = position_key(stream.name, parent["ShardId"])
    child_keys = {position_key(stream.name, child) for child in children}
    last_parent = max(i for i, k in enumerate(keys) if parent_key in k)
    first_child = min(i for i, k in enumerate(keys) if k & child_keys)
    assert last_parent < first_child
    state.close()
