"""The lease heartbeat thread, on SQLite and on a real PostgreSQL server: a consumer whose loop
is held for three times its lease keeps its shards (a consumer started meanwhile takes its fair
share, no more), every event lands once, and a consumer stopped, closed or dropped renews no
more. The real stream, lake and state database; a 1 s lease renewed every 0.2 s."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from eventlake.config import Settings
from eventlake.consumer import BatchReport, DatasetConsumer, consume
from eventlake.lake import Lake
from eventlake.state import StateStore
from tests.consumer.test_leases import GROUP, STREAM, landed, owners, publish, wait_for
from tests.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]

# The Postgres runs start a server: integration tier (as in tests/state/conftest.py).
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
STALL_SECONDS = 3.0


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "postgresql":
        settings.state_url = request.getfixturevalue("postgres_url")
    settings.consumer.lease_seconds = 1.0
    settings.consumer.lease_renew_seconds = 0.2
    settings.consumer.max_batch_seconds = 0.1
    return settings


def heartbeats(worker_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"lease-heartbeat-{worker_id}"]


def test_a_held_loop_keeps_its_leases_and_every_event_lands_once(
    settings: Settings, state: StateStore
) -> None:
    stop = threading.Event()
    stalled = threading.Event()
    errors: list[BaseException] = []

    def hold_the_loop(_: BatchReport) -> None:
        # The first batch's callback holds the consumer's loop (no read, no refresh, no
        # commit) for three leases: only the heartbeat thread renews meanwhile.
        if not stalled.is_set():
            stalled.set()
            time.sleep(STALL_SECONDS)

    def run() -> None:
        try:
            consume(settings, datasets=["events"], stop=stop, on_batch=hold_the_loop)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    service = threading.Thread(target=run)
    service.start()
    b = DatasetConsumer(settings, Lake(settings), state, "events", worker_id="b")
    try:
        wait_for(lambda: len([o for o in owners(state).values() if o]) == 4)
        (a,) = set(owners(state).values())
        assert a is not None
        ids = [f"e{i}" for i in range(200)]
        publish(settings, ids[:100])
        assert stalled.wait(30)
        # b starts while a's loop is held: it steals its fair share (2 of 4) and no more,
        # although the loop holds on for longer than a lease.
        held_by_b = []
        until = time.monotonic() + STALL_SECONDS - 0.5
        while time.monotonic() < until:
            b.poll_batch(wait=False)
            current = owners(state)
            held_by_b.append(sorted(s for s, o in current.items() if o == "b"))
            assert set(current.values()) <= {a, "b"}
            assert len(held_by_b[-1]) <= 2, current
            time.sleep(0.05)
        assert len(held_by_b[-1]) == 2
        publish(settings, ids[100:])
        wait_for(lambda: b.poll_batch(wait=False) is None and len(landed(settings)) >= 200)
        for _ in range(3):  # a late commit of either would show up as a second copy
            b.poll_batch(wait=False)
        assert landed(settings) == sorted(ids)
        assert sorted(owners(state).values()) == sorted([a, a, "b", "b"])  # a never lost one
        assert state.metrics()["events_landed"] == 200
    finally:
        stop.set()
        service.join(timeout=60)
    assert errors == []
    # a's consumer is closed: its heartbeat thread is gone and its leases were given back
    # (b takes them on its next refresh, without waiting for them to expire).
    assert heartbeats(a) == []
    assert a not in owners(state).values()
    wait_for(lambda: b.poll_batch(wait=False) is None and set(owners(state).values()) == {"b"})
    b.close()
    assert heartbeats("b") == []
    assert set(owners(state).values()) == {None}


def test_a_consumer_dropped_without_close_stops_renewing(
    settings: Settings, state: StateStore
) -> None:
    """Stopped, or dropped without close (as a crashed one): no heartbeat; its leases
    expire and transfer."""
    a = DatasetConsumer(settings, Lake(settings), state, "events", worker_id="a")
    a.open()
    assert len(heartbeats("a")) == 1
    assert set(owners(state).values()) == {"a"}
    time.sleep(2 * settings.consumer.lease_seconds)  # renewed by the thread alone
    assert all(not lease.expired(time.time()) for lease in state.leases(GROUP, STREAM).values())
    del a
    gc.collect()
    wait_for(lambda: heartbeats("a") == [], seconds=5)
    b = DatasetConsumer(settings, Lake(settings), state, "events", worker_id="b")
    b.open()
    wait_for(lambda: b.poll_batch(wait=False) is None and set(owners(state).values()) == {"b"})
    b._leases.stop_heartbeat()
    assert heartbeats("b") == []
    b.close()
