"""``GroupWriter``: the API's requests published a group at a time, led from the event loop.

A request is prepared (validated, cut, encoded) on one of the writer's worker threads, then
queued here, and awaits its answer on the event loop. The first request to find the writer
idle starts its stream thread, which takes every queued request (up to ``max_records`` stream
records) and publishes them together (``Ingestor.publish_records``: one stream write), hands
their job rows to the jobs thread (``Ingestor.record_published``: one transaction,
overlapping the next group's stream write), and goes on with the requests that queued
meanwhile until none is left. The jobs thread answers a whole group with one wake-up of the
loop. So a group costs a thread hand-off and one wake-up of the loop, where each request
publishing from its own worker thread woke a follower of the stream's group commit and one
of the job rows' (docs/benchmarks.md, "Where the time goes").
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from eventlake.ingest.errors import DependencyUnavailableError
from eventlake.ingest.prepared import IngestAnswer, PreparedBatch
from eventlake.state import PublishedJob

_Waiting = tuple[PreparedBatch, "asyncio.Future[IngestAnswer]"]
# As many as anyio's default thread limiter allows: preparing may block too (opening a stream,
# listing its shards, a rejected request's job row).
PREPARE_THREADS = 40


class Publisher(Protocol):
    """The two steps of publishing a group (``Ingestor`` has them)."""

    def publish_records(
        self, batches: Sequence[PreparedBatch]
    ) -> Sequence[PublishedJob | DependencyUnavailableError]: ...

    def record_published(
        self,
        batches: Sequence[PreparedBatch],
        published: Sequence[PublishedJob | DependencyUnavailableError],
    ) -> Sequence[IngestAnswer | DependencyUnavailableError]: ...


class GroupWriter:
    """``publish`` is called on one event loop; ``close`` at shutdown."""

    def __init__(self, publisher: Callable[[], Publisher], *, max_records: int = 4096) -> None:
        """``publisher``: gives the ingestor (the API opens it on first use, on a thread: it
        opens the job database); called on the writer's threads, once a request is prepared."""
        self._publisher = publisher
        # Preparing runs on these, not on anyio's worker threads (run_in_threadpool): handing
        # work to them and back costs less (a C queue and one wake-up of the loop, against
        # anyio's Python queue, Condition and cancel scope), measured: docs/benchmarks.md.
        self._prepare_threads = ThreadPoolExecutor(
            PREPARE_THREADS, thread_name_prefix="ingest-prepare"
        )
        self._max_records = max_records
        self._lock = threading.Lock()
        self._queue: deque[_Waiting] = deque()
        self._writing = False
        # One thread publishes groups to the stream while the other writes the job rows of
        # the group before: the two writes of a group overlap the next group's.
        self._stream_thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-stream")
        self._jobs_thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-jobs")

    async def prepare(self, prepare: Callable[[], PreparedBatch]) -> PreparedBatch:
        """Run ``prepare`` (``Ingestor.prepare``: validating, cutting, encoding; the core
        releases the GIL) on one of the writer's worker threads."""
        return await asyncio.get_running_loop().run_in_executor(self._prepare_threads, prepare)

    async def publish(self, batch: PreparedBatch) -> IngestAnswer:
        """The request's answer once its batch is durably in the stream and its job row
        written (or the failure to write it logged); raises the error it failed with. A
        request cancelled while it waits is published all the same (its batch may be in the
        group being written); nobody reads its answer."""
        answer: asyncio.Future[IngestAnswer] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queue.append((batch, answer))
            idle, self._writing = not self._writing, True
        if idle:
            try:
                self._stream_thread.submit(self._write_groups)
            except RuntimeError:  # closed: the service is stopping
                with self._lock:
                    self._queue = deque(item for item in self._queue if item[1] is not answer)
                    self._writing = False
                raise
        return await answer

    def _write_groups(self) -> None:
        """On the stream thread: publish groups until no request waits."""
        while True:
            with self._lock:
                if not self._queue:
                    self._writing = False
                    return
                group = self._next_group()
            batches = [batch for batch, _ in group]
            try:
                published = self._publisher().publish_records(batches)
                self._jobs_thread.submit(self._record, group, published)
            except BaseException as error:  # a bug, or closed: every request of it fails
                _answer(group, [error] * len(group))

    def _next_group(self) -> list[_Waiting]:
        group = [self._queue.popleft()]
        records = len(group[0][0].records)
        while self._queue and records + len(self._queue[0][0].records) <= self._max_records:
            group.append(self._queue.popleft())
            records += len(group[-1][0].records)
        return group

    def _record(
        self, group: list[_Waiting], published: Sequence[PublishedJob | DependencyUnavailableError]
    ) -> None:
        """On the jobs thread: the group's job rows, then its answers."""
        outcomes: Sequence[IngestAnswer | BaseException]
        try:
            outcomes = self._publisher().record_published([batch for batch, _ in group], published)
        except BaseException as error:
            outcomes = [error] * len(group)
        _answer(group, outcomes)

    def close(self) -> None:
        """Wait for the groups being written, then stop the writer's threads."""
        self._prepare_threads.shutdown(wait=True)
        self._stream_thread.shutdown(wait=True)
        self._jobs_thread.shutdown(wait=True)


def _answer(group: list[_Waiting], outcomes: Sequence[IngestAnswer | BaseException]) -> None:
    """Hand a group's outcomes to its requests, on their event loop (one wake-up)."""
    loop = group[0][1].get_loop()
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(_settle, group, outcomes)


def _settle(group: list[_Waiting], outcomes: Sequence[IngestAnswer | BaseException]) -> None:
    for (_, answer), outcome in zip(group, outcomes, strict=True):
        if answer.done():  # cancelled: its client went away
            continue
        if isinstance(outcome, BaseException):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome)
