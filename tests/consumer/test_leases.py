"""Consumers sharing a 4-shard embedded stream by lease, in one process: they split the shards
without overlap, one that stops renewing has its shards taken over, a zombie (paused past its
lease, then resumed) commits nothing, and a shard's window moves to its new owner. The real
stream, lake and state database; short leases so that takeovers happen in a second."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from eventlake.config import Settings
from eventlake.consumer import BatchReport, DatasetConsumer, consume, drain
from eventlake.lake import DEAD_LETTER_TABLE, Lake
from eventlake.state import StateStore
from eventlake.stream import envelope, open_stream
from eventlake.stream.base import OutgoingRecord

NOW_US = 1_795_000_000_000_000
GROUP, STREAM = "eventlake.events", "eventlake-events"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.consumer.lease_seconds = 0.8
    settings.consumer.lease_renew_seconds = 0.1
    settings.consumer.max_batch_seconds = 0.1
    return settings


def event(event_id: str, event_type: str = "page_view") -> dict[str, object]:
    return {
        "event_id": event_id,
        "user_id": "u1",
        "event_type": event_type,
        "event_timestamp": "2026-11-20T10:00:00Z",
    }


def publish(settings: Settings, event_ids: list[str], *, bad: bool = False) -> None:
    """One request per event, routed by its id (as the API routes an event to its key's
    shard); ``bad``: each with an invalid event too (a dead-letter row)."""
    stream = open_stream(settings, "events")
    stream.ensure()
    records = []
    for event_id in event_ids:
        lines = [event(event_id)] + ([event(f"{event_id}-bad", "teleport")] if bad else [])
        body = "\n".join(json.dumps(line) for line in lines).encode()
        job = uuid.uuid4().hex
        data = envelope.encode(envelope.Envelope("events", job, "t", NOW_US, "ndjson"), body)
        records.append(OutgoingRecord(event_id, data))
    stream.publish(records)


def landed(settings: Settings) -> list[str]:
    lake = Lake(settings)
    if "events" not in lake.table_names():
        return []
    table = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()
    return sorted(table["event_id"].to_pylist())


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def poll_until(consumer: DatasetConsumer, condition: Callable[[], bool]) -> list[BatchReport]:
    """Drive one consumer (its heartbeat included) until ``condition``."""
    reports = []
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        report = consumer.poll_batch(wait=False)
        if report is not None:
            reports.append(report)
        else:
            time.sleep(0.05)
    return reports


def owners(state: StateStore) -> dict[str, str | None]:
    return {s: lease.owner for s, lease in state.leases(GROUP, STREAM).items()}


def test_two_consumers_split_the_shards_without_overlap(
    settings: Settings, state: StateStore
) -> None:
    stops = [threading.Event(), threading.Event()]
    errors: list[BaseException] = []

    def run(stop: threading.Event) -> None:
        try:
            consume(settings, datasets=["events"], stop=stop)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(stop,)) for stop in stops]
    for thread in threads:
        thread.start()
    try:
        # The second to start steals from the first, one shard per heartbeat, down to 2 + 2.
        def split() -> bool:
            held = list(owners(state).values())
            return len(held) == 4 and sorted(held.count(o) for o in set(held)) == [2, 2]

        wait_for(split)
        ids = [f"e{i}" for i in range(100)]
        publish(settings, ids)
        wait_for(lambda: len(landed(settings)) >= 100)
        time.sleep(0.3)  # a late commit of either would show up as a second copy
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert landed(settings) == sorted(ids)
    # Each shard's positions were committed under one owner's lease: its records once each.
    commits = state.metrics()
    assert commits["events_landed"] == 100
    # Both gave their leases back when stopped.
    assert set(owners(state).values()) == {None}


def test_a_consumer_that_stops_renewing_has_its_shards_taken_over(
    settings: Settings, state: StateStore
) -> None:
    a = DatasetConsumer(settings, Lake(settings), state, "events", worker_id="a")
    b = DatasetConsumer(settings, Lake(settings), state, "events", worker_id="b")
    a.open()
    b.open()

    def shared() -> bool:
        a.poll_batch(wait=False)  # a renews while b steals its share
        return sorted(owners(state).values()) == ["a", "a", "b", "b"]

    poll_until(b, shared)
    publish(settings, [f"e{i}" for i in range(40)])
    # a stops (paused, killed: no heartbeat, no release); b takes its shards once they expire.
    a._leases.stop_heartbeat()
    poll_until(b, lambda: set(owners(state).values()) == {"b"} and len(landed(settings)) >= 40)
    b.close()
    assert landed(settings) == sorted(f"e{i}" for i in range(40))


class _PausedLake(Lake):
    """A real lake whose first commit waits until ``resume`` is set: the consumer is paused
    (a long GC, SIGSTOP, a VM migration) after it checked its leases, before it commits."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.paused = threading.Event()
        self.resume = threading.Event()

    def commit(self, table_name, data, **kwargs):  # type: ignore[no-untyped-def,override]
        if not self.resume.is_set():
            self.paused.set()
            self.resume.wait(60)
        return super().commit(table_name, data, **kwargs)


def test_a_zombie_that_lost_its_leases_commits_nothing(
    settings: Settings, state: StateStore
) -> None:
    ids = [f"e{i}" for i in range(30)]
    publish(settings, ids, bad=True)
    paused_lake = _PausedLake(settings)
    zombie = DatasetConsumer(settings, paused_lake, state, "events", worker_id="zombie")
    reports: list[BatchReport | None] = []
    thread = threading.Thread(target=lambda: reports.append(zombie.poll_batch(wait=False)))
    thread.start()
    assert paused_lake.paused.wait(30)  # it read everything and holds it, about to commit
    zombie._leases.stop_heartbeat()  # the whole process is paused: its heartbeat thread too

    heir = DatasetConsumer(settings, Lake(settings), state, "events", worker_id="heir")
    poll_until(heir, lambda: len(landed(settings)) >= 30)  # after the zombie's leases expired
    assert set(owners(state).values()) == {"heir"}

    paused_lake.resume.set()  # the zombie wakes up and commits its stale batch
    thread.join(timeout=60)
    (report,) = reports
    assert report is not None
    assert report.skipped
    assert report.landed == 0
    heir.close()
    zombie.close()
    lake = Lake(settings)
    assert landed(settings) == sorted(ids)  # once each
    dead = lake.table(DEAD_LETTER_TABLE).scan().to_arrow()["job_id"].to_pylist()
    assert len(dead) == len(set(dead)) == 30


def test_the_window_moves_with_the_shard(
    settings: Settings, state: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    """An event sent before a takeover and again after it lands once: the new owner loads
    the old owner's window (saved at its commit) instead of re-reading the shard."""
    a = DatasetConsumer(settings, Lake(settings), state, "events", worker_id="a")
    publish(settings, ["x", "y"])
    poll_until(a, lambda: len(landed(settings)) >= 2)
    # a stops renewing; b starts after a's leases expired and takes every shard.
    a._leases.stop_heartbeat()
    time.sleep(settings.consumer.lease_seconds)
    b = DatasetConsumer(settings, Lake(settings), state, "events", worker_id="b")
    with caplog.at_level(logging.INFO, logger="eventlake.consumer.consumer"):
        b.open()
    assert set(owners(state).values()) == {"b"}
    assert "re-learned" not in caplog.text  # the saved windows covered what was committed
    publish(settings, ["x", "z"])  # x again, after the takeover
    reports = poll_until(b, lambda: len(landed(settings)) >= 3)
    b.close()
    assert landed(settings) == ["x", "y", "z"]
    assert sum(r.duplicates for r in reports) == 1


def test_a_drain_waits_for_the_shards_another_consumer_holds(
    settings: Settings, state: StateStore
) -> None:
    """A drain (``eventlake process``, ``consume --until-caught-up``) next to a running
    consumer steals nothing from it, and returns only once that consumer has landed what the
    drain found in its shards: everything published before the drain is in the lake."""
    slow = settings.model_copy(deep=True)
    slow.consumer.max_batch_seconds = 1.5  # it gathers for a while before each commit
    stop = threading.Event()
    service = threading.Thread(
        target=consume, args=(slow,), kwargs={"datasets": ["events"], "stop": stop}
    )
    service.start()
    try:
        wait_for(lambda: len([o for o in owners(state).values() if o]) == 4)
        ids = [f"e{i}" for i in range(50)]
        publish(settings, ids)
        report = drain(settings, datasets=["events"])
        assert landed(settings) == sorted(ids)  # landed by the service, waited for by the drain
        assert report.datasets["events"].landed == 0
    finally:
        stop.set()
        service.join(timeout=60)
