"""The consumer as users run it: ``eventlake consume`` in its own process, killed with -9 at
arbitrary moments and restarted, stopped with SIGTERM, given bad arguments."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from eventlake.config import Settings
from eventlake.lake import DEAD_LETTER_TABLE, Lake
from eventlake.pipeline.supervisor import wait_for_api
from eventlake.ports import free_port
from eventlake.state import open_state
from eventlake.stream import envelope, open_stream
from eventlake.stream.base import OutgoingRecord

EVENTLAKE = [sys.executable, "-m", "eventlake.cli"]
NOW_US = 1_795_000_000_000_000


def _env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "EVENTLAKE_HOME": str(home),
        # Small, frequent batches: more commits for the kills to land between.
        "EVENTLAKE_CONSUMER__MAX_BATCH_SECONDS": "0.05",
        "EVENTLAKE_CONSUMER__READ_LIMIT": "3",
        # A killed consumer's leases expire soon: the next one takes its shards over quickly.
        "EVENTLAKE_CONSUMER__LEASE_SECONDS": "1",
        "EVENTLAKE_CONSUMER__LEASE_RENEW_SECONDS": "0.3",
    }


def _publish_requests(settings: Settings, start: int, requests: int) -> None:
    stream = open_stream(settings, "events")
    stream.ensure()
    for r in range(start, start + requests):
        lines = [
            json.dumps(
                {
                    "event_id": f"e{r}-{i}",
                    "user_id": f"u{r % 7}",
                    "event_type": "purchase" if i else "teleport",  # one rejection per request
                    "event_timestamp": "2026-11-20T10:00:00Z",
                    "event_value": float(i),
                }
            )
            for i in range(20)
        ]
        # Every fifth request repeats the previous one's ids: duplicates across requests, routed
        # to the shard of the copies they repeat, as the API routes an event by its key.
        partition_key = f"request-{r - 1 if r % 5 == 4 else r}"
        if r % 5 == 4:
            lines += [
                json.dumps(
                    {
                        "event_id": f"e{r - 1}-{i}",
                        "user_id": "u",
                        "event_type": "login",
                        "event_timestamp": "2026-11-20T10:00:00Z",
                    }
                )
                for i in range(1, 4)
            ]
        body = "\n".join(lines).encode()
        job = f"job-{r}"
        data = envelope.encode(envelope.Envelope("events", job, "t", NOW_US, "ndjson"), body)
        stream.publish([OutgoingRecord(partition_key, data)])


def _start(home: Path, **settings: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*EVENTLAKE, "consume", "--dataset", "events"],
        env=_env(home) | settings,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
def test_kill_9_at_any_moment_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    total = 0
    for round_ in range(6):
        _publish_requests(settings, total, 40)
        total += 40
        consumer = _start(tmp_path)
        time.sleep(0.6 + 0.35 * round_)  # kills land in different phases of a batch
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(timeout=30)
    finish = subprocess.run(
        [*EVENTLAKE, "consume", "--until-caught-up"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finish.returncode == 0, finish.stdout + finish.stderr

    lake = Lake(settings)
    ids = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    ids = ids.to_pylist()
    assert len(ids) == len(set(ids)) == total * 19  # every valid event once, duplicates not
    dead = lake.table(DEAD_LETTER_TABLE).scan().to_arrow()
    assert sorted(dead["job_id"].to_pylist()) == sorted(f"job-{r}" for r in range(total))
    assert set(dead["reason"].to_pylist()) == {"not_in_enum"}


def test_sigterm_commits_the_batch_in_hand_and_exits_cleanly(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    _publish_requests(settings, 0, 10)
    consumer = _start(tmp_path)
    state = open_state(settings.state_database_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and state.metrics()["last_commit"] is None:
        time.sleep(0.1)
    consumer.send_signal(signal.SIGTERM)
    out, _ = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, out.decode()
    assert b"SIGTERM" in out
    # Every batch it reported, the one in hand at SIGTERM included, is in the lake. (How many
    # requests it had read by then depends on the machine's load: what it had not read is
    # still in the stream, not lost.)
    reported = sum(int(n.replace(b",", b"")) for n in re.findall(rb"([\d,]+) landed", out))
    rows = Lake(settings).table("events").scan().to_arrow().num_rows
    assert rows == reported > 0, out.decode()
    # The next consumer lands the rest, and nothing twice.
    subprocess.run(
        [*EVENTLAKE, "consume", "--dataset", "events", "--until-caught-up"],
        env=_env(tmp_path),
        capture_output=True,
        timeout=120,
        check=True,
    )
    ids = Lake(settings).table("events").scan(selected_fields=("event_id",)).to_arrow()
    assert ids.num_rows == len(set(ids["event_id"].to_pylist())) == 10 * 19


@pytest.mark.slow
def test_a_consumer_paused_past_its_leases_commits_nothing_when_it_resumes(
    tmp_path: Path,
) -> None:
    """The zombie of the issue, as an operator meets it: a consumer process stopped (SIGSTOP:
    a long GC pause, a frozen VM) while it holds a batch it has not committed. Its leases
    expire, another consumer takes the shards and lands the events; when the first one
    resumes (SIGCONT), it commits nothing, and every event is in the table once."""
    settings = Settings(home=tmp_path)
    state = open_state(settings.state_database_url)
    lake = Lake(settings)
    # The zombie holds its batch for up to a minute: it is stopped while holding it.
    zombie = _start(tmp_path, EVENTLAKE_CONSUMER__MAX_BATCH_SECONDS="60")

    def owners() -> set[str]:
        leases = state.leases("eventlake.events", "eventlake-events").values()
        return {(lease.owner or "").split(":")[1] for lease in leases if lease.owner}

    def wait(what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 120
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting until {what}"
            time.sleep(0.1)

    def snapshots() -> int:
        names = lake.table_names()
        return sum(len(lake.table(name).snapshots()) for name in names)

    wait("the consumer holds every shard", lambda: owners() == {str(zombie.pid)})
    _publish_requests(settings, 0, 10)
    time.sleep(1.0)  # it polls every 0.2 s: by now it has read the records, and holds them
    zombie.send_signal(signal.SIGSTOP)
    try:
        heir = _start(tmp_path)
        wait("the heir lands every event", lambda: snapshots() > 0 and _rows(lake) == 10 * 19)
        assert owners() == {str(heir.pid)}
        landed = snapshots()
    finally:
        zombie.send_signal(signal.SIGCONT)
    time.sleep(2.0)  # the zombie's batch time is long past: it commits now, or never
    assert snapshots() == landed  # the zombie added no snapshot
    for consumer in (zombie, heir):
        consumer.send_signal(signal.SIGTERM)
    outs = []
    for consumer in (zombie, heir):
        out, _ = consumer.communicate(timeout=60)
        assert consumer.returncode == 0, out.decode()
        outs.append(out.decode())
    assert snapshots() == landed  # nor at its SIGTERM
    # It did hold records when it was stopped: it let them go on waking (its leases were
    # gone), or its commit found them in the lake already (the lake's watermark judged).
    assert "lost the leases of" in outs[0] or "already in the lake" in outs[0], outs[0]
    assert "0 events landed" in outs[0]
    ids = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    assert sorted(ids.to_pylist()) == sorted(f"e{r}-{i}" for r in range(10) for i in range(1, 20))
    dead = lake.table(DEAD_LETTER_TABLE).scan().to_arrow()
    assert sorted(dead["job_id"].to_pylist()) == sorted(f"job-{r}" for r in range(10))
    state.close()


def _rows(lake: Lake) -> int:
    return lake.table("events").scan().to_arrow().num_rows if "events" in lake.table_names() else 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--member", "0/2"], "No such option"),  # gone: consumers share shards by lease
        (["--dataset", "../../etc/passwd"], "unknown dataset"),
        (["--dataset", "orders"], "unknown dataset"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = subprocess.run(
        [*EVENTLAKE, "consume", "--until-caught-up", *args],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_stream_settings_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [*EVENTLAKE, "consume", "--until-caught-up"],
        env={**_env(tmp_path), "EVENTLAKE_STREAM__BACKEND__KIND": "kafka"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "EVENTLAKE_" in result.stderr


def _send_requests(api: str, key: str, start: int, requests: int) -> list[str]:
    """Requests over HTTP to the API (events routed to their key's shard), each with one
    broken event, every third repeating three events of the one before: duplicates across
    requests. The job ids."""
    jobs = []
    with httpx.Client(base_url=api, headers={"X-API-Key": key}, timeout=60) as client:
        for r in range(start, start + requests):
            lines = [
                {
                    "event_id": f"e{r}-{i}",
                    "user_id": f"u{r % 7}",
                    "event_type": "teleport" if i == 0 else "purchase",  # one rejection
                    "event_timestamp": "2026-11-20T10:00:00Z",
                }
                for i in range(10)
            ]
            if r % 3 == 2:
                lines += [{**lines[1], "event_id": f"e{r - 1}-{i}"} for i in range(1, 4)]
            answer = client.post(
                "/api/v1/ingest?dataset=events",
                content="\n".join(json.dumps(line) for line in lines).encode(),
                headers={"Content-Type": "application/x-ndjson"},
            )
            assert answer.status_code == 202, answer.text
            jobs.append(answer.json()["job_id"])
    return jobs


@pytest.mark.slow
def test_consumers_that_come_and_go_land_every_event_once(tmp_path: Path) -> None:
    """Three consumer processes share a 4-shard stream by lease, fed over HTTP by the API
    (`eventlake serve`); a fourth joins and takes its share, then one is killed with -9
    mid-stream: every valid event lands once, every broken one is dead-lettered once, every
    job is committed. (The embedded log does not reshard: the Kinesis test does.)"""
    settings = Settings(home=tmp_path)
    state = open_state(settings.state_database_url)
    key, port = "come-and-go-key", free_port()
    api = subprocess.Popen(
        [*EVENTLAKE, "serve", "--port", str(port), "--log-level", "warning"],
        env=_env(tmp_path) | {"EVENTLAKE_API_KEYS": f"t:{key}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    consumers: list[subprocess.Popen[bytes]] = []
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_api(url, api, timeout=120)
        jobs = _send_requests(url, key, 0, 30)
        consumers += [_start(tmp_path) for _ in range(3)]
        lake = Lake(settings)

        def rows() -> int:
            return lake.table("events").scan().to_arrow().num_rows if lake.table_names() else 0

        def holds_a_lease(consumer: subprocess.Popen[bytes]) -> bool:
            leases = state.leases("eventlake.events", "eventlake-events").values()
            return any(f":{consumer.pid}:" in (lease.owner or "") for lease in leases)

        def wait(what: str, condition: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 120
            while not condition():
                assert time.monotonic() < deadline, f"timed out waiting until {what}"
                time.sleep(0.2)

        wait("the first rows land", lambda: rows() > 0)
        consumers.append(_start(tmp_path))  # joins: 4 consumers, 4 shards, it steals one
        wait("the new consumer holds a shard", lambda: holds_a_lease(consumers[-1]))
        jobs += _send_requests(url, key, 30, 30)
        consumers[0].send_signal(signal.SIGKILL)  # its shards are taken once its leases expire
        consumers[0].wait(timeout=30)
        wait("every valid event lands", lambda: rows() >= 60 * 9)
        time.sleep(1.0)  # a second copy, if any, would land by now
        for consumer in consumers[1:]:
            consumer.send_signal(signal.SIGTERM)
        for consumer in consumers[1:]:
            out, _ = consumer.communicate(timeout=60)
            assert consumer.returncode == 0, out.decode()
    finally:
        for process in [*consumers, api]:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=60)

    ids = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    assert sorted(ids.to_pylist()) == sorted(f"e{r}-{i}" for r in range(60) for i in range(1, 10))
    dead = lake.table(DEAD_LETTER_TABLE).scan().to_arrow()
    assert sorted(dead["job_id"].to_pylist()) == sorted(jobs)
    statuses = {job: (state.job(job) or {}).get("status") for job in jobs}
    assert set(statuses.values()) == {"committed"}, statuses
    state.close()
