"""``make loadtest`` works end to end, and its figures are what the API accepted: every request
locust counts is a job in the state store and a record in the stream, with its 500 events."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from eventlake.config import Settings
from eventlake.state import StateStore
from eventlake.stream import open_stream
from eventlake.stream.envelope import decode

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 5
USERS = 2
EVENTS_PER_REQUEST = 500  # run.py's default batch
ROW = re.compile(r"│\s*(?P<measure>[a-z0-9/ ]+?)\s*│\s*(?P<value>[^│]*?)\s*│")


def _figures(out: str) -> dict[str, str]:
    """The measures of run.py's table, by name."""
    return {match["measure"]: match["value"] for match in ROW.finditer(out)}


def _number(text: str) -> float:
    return float(text.replace(",", "").removesuffix(" ms"))


def _stream_contents(settings: Settings) -> tuple[set[str], int]:
    """The job ids and the number of events in the events stream, read from its start."""
    stream = open_stream(settings, "events")
    job_ids: set[str] = set()
    events = 0
    try:
        for shard in stream.shards():
            reader = stream.reader(shard.shard_id, None)
            while records := reader.read(1000).records:
                for record in records:
                    envelope, body = decode(record.data, max_body_bytes=64 << 20)
                    job_ids.add(envelope.job_id)
                    events += len(json.loads(body))
    finally:
        stream.close()
    return job_ids, events


def test_a_short_load_test_reports_what_the_api_accepted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, str(ROOT / "loadtest" / "run.py"), "--seconds", str(SECONDS),
         "--users", str(USERS), "--home", str(home)],
        # Fewer bodies to build: a quicker start. Wide enough that the table never wraps.
        env={**os.environ, "LOADTEST_POOL": "20", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 0, out

    # The figures parse, are positive and agree with each other.
    figures = _figures(out)
    counted = re.fullmatch(r"([\d,]+) \(([\d,]+) failed\)", figures["requests"])
    assert counted, out
    requests, failed = int(counted[1].replace(",", "")), int(counted[2].replace(",", ""))
    assert failed == 0, out
    assert requests > 0, out
    per_second = _number(figures["accepted requests/s"])
    events_per_second = _number(figures["events/s"])
    p50, p99 = _number(figures["p50 latency"]), _number(figures["p99 latency"])
    assert per_second > 0, out
    # Both rounded to units in the table: half a request's events apart at most.
    assert events_per_second == pytest.approx(
        per_second * EVENTS_PER_REQUEST, abs=EVENTS_PER_REQUEST
    )
    # The rate is over the run at most (rounded to a unit): it cannot be lower than that.
    assert requests <= (per_second + 0.5) * (SECONDS + 1), out
    assert 0 < p50 <= p99, out

    # What the API recorded: a job per request, every event accepted, nothing rejected. A
    # request in flight when locust stops its users is accepted but never counted by locust.
    settings = Settings(home=home)
    state = StateStore(settings.state_database_url)
    try:
        metrics = state.metrics()
        jobs = {job["job_id"] for job in state.recent_jobs(kind="ingest", limit=requests + 100)}
    finally:
        state.close()
    assert requests <= metrics["jobs"] <= requests + USERS, (requests, metrics)
    assert metrics["events_accepted"] == metrics["jobs"] * EVENTS_PER_REQUEST
    assert metrics["events_received"] == metrics["events_accepted"]
    assert metrics["events_rejected"] == 0

    # And the stream holds exactly those jobs' events, durably: the 202s were not empty words.
    streamed_jobs, streamed_events = _stream_contents(settings)
    assert streamed_jobs == jobs
    assert streamed_events == metrics["events_accepted"]
