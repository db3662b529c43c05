"""Shard leases on SQLite and on a real PostgreSQL server: at most one owner at a time,
expiry and takeover, fair share, a renewal that fails after a steal, parents before children.
The coordinator (``eventlake.consumer.leases``) runs against the real store."""

from __future__ import annotations

import threading
import time

from eventlake.config import ConsumerSettings
from eventlake.consumer.leases import LeaseCoordinator
from eventlake.state import StateStore
from eventlake.stream.base import ShardInfo

# The Postgres runs start a server: integration tier (as in test_store_postgres.py).
GROUP, STREAM = "lake.events", "eventlake-events"
SHARDS = [ShardInfo(f"shard-{i}") for i in range(4)]


def worker(state: StateStore, name: str, lease_seconds: float = 10.0) -> LeaseCoordinator:
    settings = ConsumerSettings(lease_seconds=lease_seconds, lease_renew_seconds=0.01)
    return LeaseCoordinator(state, group=GROUP, stream=STREAM, settings=settings, worker_id=name)


def owners(state: StateStore) -> dict[str, str | None]:
    return {s: lease.owner for s, lease in state.leases(GROUP, STREAM).items()}


def test_concurrent_takes_of_one_lease_have_one_winner(state: StateStore) -> None:
    state.ensure_leases(GROUP, STREAM, ["shard-0"])
    seen = state.leases(GROUP, STREAM)["shard-0"]  # every taker saw the same unowned lease
    start = threading.Barrier(8)
    won: list[str] = []

    def take(name: str) -> None:
        start.wait()
        if state.take_lease(GROUP, STREAM, seen, name, 10.0) is not None:
            won.append(name)

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    lease = state.leases(GROUP, STREAM)["shard-0"]
    assert (lease.owner, lease.counter) == (won[0], 1)


def test_an_expired_lease_is_taken_over_and_a_live_one_is_not(state: StateStore) -> None:
    a, b = worker(state, "a", lease_seconds=0.3), worker(state, "b", lease_seconds=0.3)
    one = [SHARDS[0]]
    a.refresh(one)
    b.refresh(one)
    assert set(a.held) == {"shard-0"}
    assert not b.held
    deadline = time.monotonic() + 10
    while not b.held and time.monotonic() < deadline:
        time.sleep(0.1)  # a stops renewing (paused, killed)
        b.refresh(one)
    assert set(b.held) == {"shard-0"}
    assert a.renew() == {"shard-0"}  # a learns it lost the shard on its next heartbeat
    assert not a.held
    assert owners(state) == {"shard-0": "b"}


def test_three_workers_share_four_shards_fairly_without_overlap(state: StateStore) -> None:
    workers = [worker(state, name) for name in ("a", "b", "c")]
    for _ in range(4):  # a few heartbeats: a starts with all, b and c steal one at a time
        for w in workers:
            w.refresh(SHARDS)
    held = [set(w.held) for w in workers]
    assert sorted(len(h) for h in held) == [1, 1, 2]
    assert set().union(*held) == {s.shard_id for s in SHARDS}
    assert owners(state) == {s: w.worker_id for w in workers for s in w.held}
    # A worker that leaves cleanly gives its shards back; the others take them at once.
    workers[0].release()
    for w in workers[1:]:
        w.refresh(SHARDS)
    assert sorted(len(w.held) for w in workers[1:]) == [2, 2]


def test_newcomers_get_a_shard_from_workers_holding_two(state: StateStore) -> None:
    """a and b hold 2 + 2; c, then d, join: each steals one (a worker holding nothing is
    invisible to the others, so "more than the share" alone would leave them idle)."""
    a, b = worker(state, "a"), worker(state, "b")
    for _ in range(3):
        a.refresh(SHARDS)
        b.refresh(SHARDS)
    assert (len(a.held), len(b.held)) == (2, 2)
    c, d = worker(state, "c"), worker(state, "d")
    c.refresh(SHARDS)
    d.refresh(SHARDS)
    for w in (a, b):
        w.renew()
    assert sorted(len(w.held) for w in (a, b, c, d)) == [1, 1, 1, 1]
    for _ in range(2):  # and it stays so: nobody steals back
        for w in (a, b, c, d):
            w.refresh(SHARDS)
    assert owners(state) == {s: w.worker_id for w in (a, b, c, d) for s in w.held}
    assert sorted(len(w.held) for w in (a, b, c, d)) == [1, 1, 1, 1]


def test_a_renewal_fails_after_a_steal(state: StateStore) -> None:
    a = worker(state, "a")
    a.refresh(SHARDS[:2])
    seen = state.leases(GROUP, STREAM)["shard-1"]
    assert state.take_lease(GROUP, STREAM, seen, "b", 10.0) is not None  # b steals it
    assert a.renew() == {"shard-1"}
    assert set(a.held) == {"shard-0"}
    # A release or finish by the old owner no longer matches either.
    assert state.release_lease(GROUP, STREAM, seen) is None
    assert owners(state)["shard-1"] == "b"


def test_children_are_taken_only_once_their_parents_are_finished(state: StateStore) -> None:
    shards = [
        ShardInfo("parent", closed=True),
        ShardInfo("child-a", ("parent",)),
        ShardInfo("child-b", ("parent",)),
    ]
    a, b = worker(state, "a"), worker(state, "b")
    a.refresh(shards)
    b.refresh(shards)
    assert set(a.held) == {"parent"}
    assert not b.held
    a.finish("parent")
    b.refresh(shards)  # a holds nothing now, so b sees one live worker: b takes both
    assert set(b.held) == {"child-a", "child-b"}
    a.refresh(shards)  # a is back for its share: it steals one
    assert len(b.renew()) == 1  # b learns on its next heartbeat
    assert len(a.held) == len(b.held) == 1
    assert set(a.held) | set(b.held) == {"child-a", "child-b"}
    assert state.leases(GROUP, STREAM)["parent"].finished


def test_a_window_saved_late_does_not_replace_a_newer_one(state: StateStore) -> None:
    from eventlake.state.leases import SavedWindow

    state.save_window(GROUP, STREAM, "shard-0", SavedWindow("t", 20, 1, b"new"))
    state.save_window(GROUP, STREAM, "shard-0", SavedWindow("t", 10, 2, b"old"))  # a zombie
    saved = state.load_window(GROUP, STREAM, "shard-0")
    assert saved is not None
    assert (saved.position, saved.data) == (20, b"new")
    state.save_window(GROUP, STREAM, "shard-0", SavedWindow("other-table", 5, 3, b"x"))
    saved = state.load_window(GROUP, STREAM, "shard-0")
    assert saved is not None
    assert saved.table_uuid == "other-table"
