"""Which shards this consumer reads: leases in the state database, shared by every consumer of
a dataset (``eventlake.state.leases``), as the Kinesis Client Library's lease coordinator.

On each refresh (every ``consumer.lease_renew_seconds``) a coordinator lists the shards,
creates the missing lease rows, renews its own leases (unless the heartbeat thread does: see
below), takes unowned and expired ones up to its fair share, ceil(readable shards / live
workers), a worker being live while it holds an unexpired lease. Then, like the KCL, it steals
at most one lease per refresh from the most loaded worker, and only when that one holds at
least two more than this one: the shares converge to within one of each other and a stolen
shard never goes back and forth, and consumers joining or leaving move a few shards rather than
all of them. (A worker that holds nothing is invisible to the others, so "more than its share"
as each worker computes it could leave a newcomer idle next to a worker holding two; the
difference of two cannot.) A child shard is taken only once its parents are finished (read to
their end and committed): the keys of one partition are read in order across a reshard.

Renewal runs in a heartbeat thread of its own (``start_heartbeat``), as the KCL's: every
renew interval, whatever the consumer's loop is doing, so a batch that takes longer than a
lease does not let another consumer take its shards mid-batch. Taking and stealing
(``refresh``) stay in the loop. One lock serialises everything that changes the held leases:
two renewals of one lease at once would fail one compare-and-set, and the lease would look lost.
The thread uses the store's engine, whose pool hands each thread a connection of its own (on
SQLite too: a pysqlite connection is never shared by two threads at once). It holds the
coordinator by a weak reference: a consumer dropped without ``release`` stops renewing, and its
leases expire as a crashed one's.

A lease can be lost at any time (expired during a long pause, stolen): ``held`` is what this
worker may read, as of its last renewal, and ``take_lost`` the shards lost since the loop last
asked (also those lost and taken again meanwhile: their readers must start over). The consumer
drops a lost shard's reader and pending records; if it commits them anyway (paused between its
check and its commit), the lake's watermark skips what the new owner already committed.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
import weakref

from eventlake.config import ConsumerSettings
from eventlake.state import StateStore
from eventlake.state.leases import Lease
from eventlake.stream import ordered_shards
from eventlake.stream.base import ShardInfo

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    """Unique per consumer: host, process, and a random part (two consumers of one process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseCoordinator:
    """One worker's leases on one stream's shards, for one consumer group (the lake table)."""

    def __init__(
        self,
        state: StateStore,
        *,
        group: str,
        stream: str,
        settings: ConsumerSettings,
        worker_id: str | None = None,
        greedy: bool = False,
    ) -> None:
        self.state = state
        # A drain's coordinator: it takes every shard nobody live holds and steals none.
        self.greedy = greedy
        self.group = group
        self.stream = stream
        self.settings = settings
        self.worker_id = worker_id or new_worker_id()
        self._held: dict[str, Lease] = {}
        self._lost: set[str] = set()  # lost since the loop last asked (take_lost)
        # Reentrant: refresh renews under it, and the heartbeat thread waits for both.
        self._lock = threading.RLock()
        self._heartbeat: threading.Thread | None = None
        self._stopping = threading.Event()
        self.finished: set[str] = set()
        self.unclaimed: set[str] = set()
        self.others: set[str] = set()  # readable shards held by another live worker
        self.refreshed_at = -math.inf
        self.renewed_at = -math.inf

    @property
    def held(self) -> dict[str, Lease]:
        """The leases held as of the last renewal: a copy (the heartbeat thread changes them)."""
        with self._lock:
            return dict(self._held)

    def take_lost(self) -> set[str]:
        """The shards lost since the last call (held again or not)."""
        with self._lock:
            lost, self._lost = self._lost, set()
        return lost

    # --- the heartbeat ------------------------------------------------------------------------

    def due(self) -> bool:
        return time.monotonic() - self.refreshed_at >= self.settings.lease_renew_seconds

    def renew(self) -> set[str]:
        """Renew every lease held; the shards lost since the last renewal."""
        lost = set()
        with self._lock:
            for shard_id, lease in list(self._held.items()):
                renewed = self.state.renew_lease(
                    self.group, self.stream, lease, self.settings.lease_seconds
                )
                if renewed is None:
                    log.info("%s: lost the lease on %s/%s", self.worker_id, self.stream, shard_id)
                    del self._held[shard_id]
                    lost.add(shard_id)
                else:
                    self._held[shard_id] = renewed
            self._lost |= lost
            self.renewed_at = time.monotonic()
        return lost

    @property
    def heartbeat_running(self) -> bool:
        return self._heartbeat is not None and self._heartbeat.is_alive()

    def start_heartbeat(self) -> None:
        """Renew the leases held from a daemon thread, every renew interval, until
        ``stop_heartbeat`` (or ``release``). Idempotent."""
        with self._lock:
            if self.heartbeat_running:
                return
            self._stopping = threading.Event()
            self._heartbeat = threading.Thread(
                target=_beat,
                args=(weakref.ref(self), self._stopping, self.settings.lease_renew_seconds),
                name=f"lease-heartbeat-{self.worker_id}",
                daemon=True,
            )
            self._heartbeat.start()

    def stop_heartbeat(self) -> None:
        """Stop renewing (the thread is gone when this returns); the leases are kept until
        they expire, as a killed consumer's. ``release`` gives them back instead."""
        self._stopping.set()
        thread, self._heartbeat = self._heartbeat, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def renew_if_due(self) -> set[str]:
        """Renew when a third of the renew interval has passed: cheap to call often (e.g.
        right before a commit, to drop what was lost meanwhile). The heartbeat thread, when
        running, renews on its own."""
        if self.heartbeat_running:
            return set()
        if time.monotonic() - self.renewed_at >= self.settings.lease_renew_seconds / 3:
            return self.renew()
        return set()

    # --- taking shards ------------------------------------------------------------------------

    def refresh(self, shards: list[ShardInfo]) -> set[str]:
        """Renew (unless the heartbeat thread does), then take unowned, expired and fair-share
        leases. The shards lost."""
        with self._lock:
            return self._refresh(shards)

    def _refresh(self, shards: list[ShardInfo]) -> set[str]:
        lost = set() if self.heartbeat_running else self.renew()
        self.refreshed_at = time.monotonic()
        listed = {shard.shard_id for shard in shards}
        self.state.ensure_leases(self.group, self.stream, listed)
        leases = self.state.leases(self.group, self.stream)
        self.finished = {s for s, lease in leases.items() if lease.finished}
        for shard_id in [s for s in self._held if s in self.finished]:
            del self._held[shard_id]  # finished by this worker, or by a twin before it lost it
        now = time.time()
        # Readable: not finished, and every parent finished or gone (expired from the stream).
        readable = [
            shard.shard_id
            for shard in ordered_shards(shards)
            if shard.shard_id not in self.finished
            and all(p in self.finished or p not in listed for p in shard.parent_shard_ids)
        ]
        live = {self.worker_id} | {
            lease.owner
            for lease in leases.values()
            if lease.owner is not None and not lease.finished and not lease.expired(now)
        }
        target = math.ceil(len(readable) / len(live)) if readable else 0
        if self.greedy:
            target = len(readable)
        self.others = {s for s in readable if s not in self._held and not leases[s].expired(now)}
        for shard_id in readable:
            if len(self._held) >= target:
                break
            lease = leases[shard_id]
            # Expired, or this worker's by the database but not in hand: a renewal whose answer
            # was lost (the database went away mid-commit) moved the counter on, so the next
            # renewal found the lease "lost". Either way it is free for this worker: left alone,
            # a lone consumer would never read the shard again.
            if shard_id not in self._held and (lease.expired(now) or lease.owner == self.worker_id):
                self._take(lease)
        if not self.greedy:
            self._steal_one(readable, leases, now)
        # What nobody live holds yet: a drain waits until someone (maybe this worker) takes it.
        self.unclaimed = {s for s in readable if s not in self._held and leases[s].expired(now)}
        return lost

    def _take(self, lease: Lease) -> bool:
        taken = self.state.take_lease(
            self.group, self.stream, lease, self.worker_id, self.settings.lease_seconds
        )
        if taken is None:
            return False  # another worker was quicker
        log.info(
            "%s: took %s/%s (from %s)", self.worker_id, self.stream, lease.shard_id, lease.owner
        )
        self._held[lease.shard_id] = taken
        return True

    def _steal_one(self, readable: list[str], leases: dict[str, Lease], now: float) -> None:
        """Take one lease from the most loaded worker, if it holds two more than this one."""
        by_owner: dict[str, list[Lease]] = {}
        for shard_id in readable:
            lease = leases[shard_id]
            if lease.owner not in (None, self.worker_id) and not lease.expired(now):
                by_owner.setdefault(lease.owner, []).append(lease)
        if not by_owner:
            return
        _, owned = max(sorted(by_owner.items()), key=lambda item: len(item[1]))
        if len(owned) >= len(self._held) + 2:
            self._take(owned[-1])  # its newest shard in the order: parents stay where they are

    # --- giving shards back -------------------------------------------------------------------

    def finish(self, shard_id: str) -> None:
        """The shard is read to its end and committed: done for good, its children readable."""
        with self._lock:
            lease = self._held.pop(shard_id, None)
            if lease is not None and self.state.finish_lease(self.group, self.stream, lease):
                self.finished.add(shard_id)
            self.refreshed_at = -math.inf  # its children are readable: take them on the next poll

    def release(self) -> None:
        """Stop the heartbeat and give every lease back (a clean shutdown): the others take
        them at once."""
        self.stop_heartbeat()
        with self._lock:
            for lease in self._held.values():
                self.state.release_lease(self.group, self.stream, lease)
            self._held.clear()


def _beat(
    coordinator: weakref.ref[LeaseCoordinator], stopping: threading.Event, interval: float
) -> None:
    """The heartbeat thread: renew every ``interval`` until stopped, or until the coordinator
    is gone (dropped without release: its leases expire, as a crashed consumer's)."""
    while not stopping.wait(interval):
        held = coordinator()
        if held is None:
            return
        try:
            held.renew()
        except Exception:  # the database unreachable: try again on the next beat
            log.warning("%s: could not renew the leases", held.worker_id, exc_info=True)
        del held  # no strong reference while waiting
