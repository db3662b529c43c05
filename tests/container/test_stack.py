"""The production-shaped stack (compose.yaml) end to end, on a real Docker engine.

One `docker compose up --wait` of the whole stack: the API (two workers), two consumers sharing
the shards by lease, the dashboard, PostgreSQL (job state, Iceberg SQL catalog) and moto
(Kinesis, S3). Generated events with duplicates and broken records go to the API over HTTP;
the Iceberg tables are then read from this process, through the Postgres catalog on its
published port and S3 on moto's: every valid event exactly once, every broken one in the
dead-letter table. Then one consumer is killed, more events are sent (the other takes its
shards over once its leases expire), it is started again (it takes its share back), and
everything is checked again. Last, the stack is
torn down and nothing of it may be left.

deploy/compose/images.sh starts the engine when it is missing (deploy/docker/engine.sh) and
builds or stands in the images. No silent skip: where no engine can run, the test fails with
the engine script's reason, unless EVENTLAKE_NO_CONTAINERS says why it is not to run.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from eventlake.lake import DEAD_LETTER_TABLE
from eventlake.sample_data.events import generate_events
from eventlake.sample_data.model import SampleConfig

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("containers")]

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "deploy" / "compose" / "images.sh"
COMPOSE = ROOT / ".venv" / "bin" / "docker-compose"
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
CANNOT_RUN = 77  # engine.sh: no engine can run on this machine
TAG = "eventlake:test"  # the tag tests/container/test_image.py builds too
SERVICES = ("postgres", "moto", "api", "consumer-0", "consumer-1", "dashboard")
WAREHOUSE_BUCKET = "eventlake-lake"


@dataclass(frozen=True)
class Stack:
    project: str
    env: dict[str, str]
    api_url: str
    api_key: str
    postgres_password: str
    catalog: SqlCatalog

    def compose(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return compose(self.project, self.env, *args, check=check, timeout=timeout)


def compose(
    project: str, env: dict[str, str], *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(COMPOSE), "--project-name", project, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        pytest.fail(f"docker-compose {' '.join(args)}: {done.returncode}\n{done.stderr[-4000:]}")
    return done


def published(project: str, env: dict[str, str], service: str, port: int) -> str:
    """The 127.0.0.1:PORT a service's port is published on (compose picked a free one)."""
    address = compose(project, env, "port", service, str(port)).stdout.strip()
    host, _, chosen = address.rpartition(":")
    assert host == "127.0.0.1", f"{service} is published on {address}, not on loopback only"
    return f"127.0.0.1:{chosen}"


def leftovers(project: str) -> list[str]:
    """Containers, networks and volumes the engine still has for this compose project."""
    label = f"label=com.docker.compose.project={project}"
    found = []
    for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
        listed = subprocess.run(
            [DOCKER, *kind, "--quiet", "--filter", label],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        found += [f"{kind[0]} {line}" for line in listed.stdout.split()]
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = os.environ.get("EVENTLAKE_NO_CONTAINERS")
    if reason:
        pytest.skip(f"container tests did not run: {reason}")
    built = subprocess.run(
        [str(IMAGES)],
        cwd=ROOT,
        env={**os.environ, "EVENTLAKE_IMAGE": TAG},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if built.returncode == CANNOT_RUN:
        pytest.fail(f"container tests did not run: {built.stderr.strip().splitlines()[-1]}")
    assert built.returncode == 0, f"{built.stdout[-4000:]}\n{built.stderr[-4000:]}"

    # Secrets as files outside the image, readable by the containers' users (their folder
    # is not).
    folder = tmp_path_factory.mktemp("stack-secrets")
    password, api_key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    for name, value in (("postgres_password", password), ("api_key", api_key)):
        (folder / name).write_text(value + "\n")
        (folder / name).chmod(0o644)
    project = f"eventlake-test-{os.getpid()}"
    env = {
        **os.environ,
        "EVENTLAKE_IMAGE": TAG,
        "EVENTLAKE_STACK_SECRETS": str(folder),
        # Any free port on 127.0.0.1: the test may run beside `make stack`.
        "EVENTLAKE_API_PORT": "0",
        "EVENTLAKE_DASHBOARD_PORT": "0",
        "EVENTLAKE_POSTGRES_PORT": "0",
        "EVENTLAKE_MOTO_PORT": "0",
    }
    try:
        up = compose(project, env, "up", "--detach", "--wait", "--wait-timeout", "240",
                     check=False, timeout=400)  # fmt: skip
        if up.returncode != 0:
            logs = compose(project, env, "logs", "--no-color", "--tail", "40", check=False)
            pytest.fail(f"compose up --wait failed:\n{up.stderr[-3000:]}\n{logs.stdout[-6000:]}")
        postgres = published(project, env, "postgres", 5432)
        moto = published(project, env, "moto", 5000)
        catalog = SqlCatalog(
            "eventlake",
            uri=f"postgresql+psycopg://eventlake:{password}@{postgres}/eventlake",
            warehouse=f"s3://{WAREHOUSE_BUCKET}/warehouse",
            **{
                "s3.endpoint": f"http://{moto}",
                "s3.region": "us-east-1",
                "s3.access-key-id": "moto",
                "s3.secret-access-key": "moto",
            },
        )
        api_url = f"http://{published(project, env, 'api', 8000)}"
        yield Stack(project, env, api_url, api_key, password, catalog)
    finally:
        compose(project, env, "down", "--volumes", "--remove-orphans", check=False, timeout=180)


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    pytest.fail(f"{what} within {timeout:.0f} s")


@dataclass
class Sent:
    """What the API accepted: each valid event id; each broken record's job and reason."""

    valid_ids: set[str] = field(default_factory=set)
    dead: Counter[tuple[str, str]] = field(default_factory=Counter)

    def all_ids(self) -> set[str]:
        return self.valid_ids

    def __add__(self, other: Sent) -> Sent:
        return Sent(self.valid_ids | other.valid_ids, self.dead + other.dead)


def send(stack: Stack, seed: int, events: int = 60) -> Sent:
    """One request: a generated sample (NDJSON) with duplicates and broken records.

    The API routes each event to the shard of its id, so every copy of an event, whichever
    request carries it, meets the same shard's dedup window, whichever consumer holds it.
    """
    config = SampleConfig(events=events, seed=seed, duplicate_share=0.05, invalid_share=0.05)
    records = list(generate_events(config))
    assert any(r.kind == "duplicate" for r in records), "the sample must hold duplicates"
    assert any(r.kind == "invalid" for r in records), "and broken records"
    body = "\n".join(r.line for r in records) + "\n"
    answer = httpx.post(
        f"{stack.api_url}/api/v1/ingest?dataset=events",
        content=body.encode(),
        headers={"Content-Type": "application/x-ndjson", "X-API-Key": stack.api_key},
        timeout=60,
    )
    assert answer.status_code == 202, answer.text[:500]
    job_id = answer.json()["job_id"]
    sent = Sent()
    for record in records:
        expected = record.expected_for("ndjson")
        assert expected is not None
        kind, reason, _ = expected
        if kind == "valid":
            sent.valid_ids.add(record.parse()["event_id"])
        elif kind == "invalid":
            assert reason is not None
            sent.dead[(job_id, reason)] += 1
    return sent


def send_requests(stack: Stack, first_seed: int, requests: int = 4) -> Sent:
    """A few requests (each one's events spread over both shards)."""
    sent = Sent()
    for seed in range(first_seed, first_seed + requests):
        sent += send(stack, seed)
    return sent


def landed(stack: Stack) -> tuple[list[str], Counter[tuple[str, str]]]:
    """Every event id in the lake's events table, and the dead-letter table's (job, reason)."""
    events = stack.catalog.load_table("eventlake.events")
    ids = events.scan(selected_fields=("event_id",)).to_arrow()["event_id"].to_pylist()
    dead = stack.catalog.load_table(f"eventlake.{DEAD_LETTER_TABLE}")
    rows = dead.scan(selected_fields=("job_id", "reason")).to_arrow()
    jobs, reasons = rows["job_id"].to_pylist(), rows["reason"].to_pylist()
    return ids, Counter(zip(jobs, reasons, strict=True))


def assert_landed_exactly_once(stack: Stack, sent: Sent, timeout: float = 120) -> None:
    expected = sent.all_ids()

    def complete() -> bool:
        ids, dead = landed(stack)
        return expected <= set(ids) and dead == sent.dead

    wait_until(f"{len(expected)} events and {sent.dead.total()} dead letters landed", complete,
               timeout)  # fmt: skip
    ids, dead = landed(stack)
    assert len(ids) == len(set(ids)), "an event landed twice"
    assert set(ids) == expected
    assert dead == sent.dead


def test_the_stack_is_up_healthy_and_on_loopback_only(stack: Stack) -> None:
    states: list[dict[str, object]] = []

    def all_healthy() -> bool:
        listed = stack.compose("ps", "--format", "json").stdout
        states[:] = [json.loads(line) for line in listed.splitlines() if line.strip()]
        health = {s["Service"]: (s["State"], s["Health"]) for s in states}
        return health == {name: ("running", "healthy") for name in SERVICES}

    # `up --wait` saw every service healthy; a loaded machine can still show a health check
    # between two runs. What must not happen is a restart: a service that crashed after
    # `up --wait` would show as healthy again later.
    if not all_healthy():
        wait_until(f"every service healthy: {states}", all_healthy, timeout=60)
    containers = [str(state["ID"]) for state in states]
    inspect = [DOCKER, "inspect", "--format", "{{.Name}} {{.RestartCount}}", *containers]
    restarts = subprocess.run(inspect, capture_output=True, text=True, check=True).stdout
    assert [line for line in restarts.splitlines() if not line.endswith(" 0")] == [], restarts
    for state in states:
        for port in state.get("Publishers") or []:
            if port.get("PublishedPort"):
                assert port["URL"] == "127.0.0.1", state
    answer = httpx.get(f"{stack.api_url}/api/v1/health", timeout=10)
    assert answer.status_code == 200, answer.text
    refused = httpx.post(f"{stack.api_url}/api/v1/ingest", json=[], timeout=10)
    assert refused.status_code == 401


def test_events_land_exactly_once_even_when_a_consumer_is_killed(stack: Stack) -> None:
    first = send_requests(stack, first_seed=1)
    assert_landed_exactly_once(stack, first)

    stack.compose("kill", "--signal", "SIGKILL", "consumer-1")
    state = stack.compose("ps", "--all", "--format", "{{.State}}", "consumer-1").stdout.strip()
    assert state == "exited", state
    # consumer-0 takes consumer-1's shards over once their leases expire (10 s) and lands
    # everything, the events consumer-1 had read and not committed included.
    second = send_requests(stack, first_seed=100)
    assert_landed_exactly_once(stack, first + second)

    stack.compose("start", "consumer-1")  # it takes its share back, one shard at a time
    third = send_requests(stack, first_seed=200)
    assert_landed_exactly_once(stack, first + second + third)


def test_no_secret_is_logged_and_teardown_leaves_nothing(stack: Stack) -> None:
    logs = stack.compose("logs", "--no-color").stdout
    assert "Application startup complete" in logs
    assert stack.api_key not in logs, "the API key must never be logged"
    assert stack.postgres_password not in logs, "the Postgres password must never be logged"
    stack.compose("down", "--volumes", "--remove-orphans", timeout=180)
    assert leftovers(stack.project) == []
