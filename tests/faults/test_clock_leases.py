"""Two consumers (``eventlake consume`` processes) share a stream's shards by lease while one's
wall clock jumps an hour ahead, then an hour behind, then back, and events keep coming.

Leases expire by the writers' wall clocks (``eventlake.state.leases``): an hour ahead, the
shifted consumer finds the other's leases long expired and takes them, and its own look good
for an hour to the other; an hour behind, its leases look expired to the other at once, and
the other takes them. Either way both may believe, for a moment, that they hold a shard. What
must hold is what the user sees: every acknowledged event lands once, none is lost, and both
consumers keep running. The lake's watermark decides (a consumer that commits a range the other
committed first commits nothing), and readers start at the watermark.

The clock is moved through ``tests.faults.shifted_clock`` (Python's wall clock in that process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from eventlake.config import Settings
from eventlake.lake import Lake
from eventlake.state import open_state
from eventlake.state.leases import Lease
from eventlake.stream import open_stream
from tests.faults.stack import (
    CONSUMER,
    DEADLINE_S,
    TestClient,
    consumer_process,
    create_app,
    lands_once,
    local_api_key,
    send_events,
)

HOUR_S = 3600.0
SHIFTED = ("-m", "tests.faults.shifted_clock")
ROOT = Path(__file__).resolve().parents[2]


def test_a_wall_clock_jumping_under_one_of_two_consumers_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    consumer = CONSUMER.model_copy(update={"lease_seconds": 2.0, "lease_renew_seconds": 0.3})
    settings = Settings(home=tmp_path / "home", consumer=consumer)
    lake = Lake(settings)
    offset = tmp_path / "offset"
    offset.write_text("0")
    with TestClient(create_app(settings)) as api, open_state(settings.state_database_url) as state:
        key = local_api_key(settings)
        sent = send_events(api, key, 0, 40)  # creates the stream: 4 shards
        group = f"{settings.lake.namespace}.events"
        stream = open_stream(settings, "events").name

        def leases() -> dict[str, Lease]:
            return state.leases(group, stream)

        stop = threading.Event()

        def publish() -> None:  # a steady flow through every phase
            first = 1000
            while not stop.wait(0.1):
                sent.update(send_events(api, key, first, 20))
                first += 20

        publisher = threading.Thread(target=publish)
        env = {
            "EVENTLAKE_CONSUMER__LEASE_SECONDS": str(consumer.lease_seconds),
            "EVENTLAKE_CONSUMER__LEASE_RENEW_SECONDS": str(consumer.lease_renew_seconds),
            "PYTHONPATH": str(ROOT),  # the shifted clock's launcher is in tests/
        }
        with (
            consumer_process(settings, tmp_path / "a.log", env=env) as steady,
            consumer_process(
                settings, tmp_path / "b.log", (*SHIFTED, str(offset)), env=env
            ) as shifted,
        ):
            both = (steady, shifted)

            def wait_for(condition: Callable[[], bool], what: str) -> None:
                deadline = time.monotonic() + DEADLINE_S
                while not condition():
                    for process in both:
                        assert process.poll() is None, f"a consumer exited waiting for {what}"
                    assert time.monotonic() < deadline, f"waited {DEADLINE_S:g} s for {what}"
                    time.sleep(0.1)

            owners = lambda: {lease.owner for lease in leases().values()}  # noqa: E731
            wait_for(lambda: len(owners() - {None}) == 2, "the shards to be shared")
            publisher.start()
            try:
                # An hour ahead: its renewals stamp leases an hour out; it takes every shard.
                offset.write_text(str(HOUR_S))
                wait_for(
                    lambda: all(
                        lease.expires_at > time.time() + HOUR_S / 2 for lease in leases().values()
                    ),
                    "the shifted consumer to hold every shard, for an hour by the real clock",
                )
                time.sleep(3)
                # An hour behind: its leases look expired at once; the steady one takes them.
                offset.write_text(str(-HOUR_S))
                wait_for(
                    lambda: all(
                        abs(lease.expires_at - time.time()) < HOUR_S / 2
                        for lease in leases().values()
                    ),
                    "the steady consumer to take every shard back",
                )
                time.sleep(3)
                offset.write_text("0")
                time.sleep(2)
            finally:
                stop.set()
                publisher.join(timeout=30)
            lands_once(lake, sent, steady)
            for process in both:
                assert process.poll() is None, "a consumer stopped"
