"""The consumer as a service: every dataset's ``DatasetConsumer`` polled in turn until told to
stop (``consume``), or until every shard is idle (``drain``, the ``process`` pipeline).

A failed batch is retried with backoff by a service, and raised by a drain; either way the
consumer has already reset itself to what the lake holds (``DatasetConsumer.poll_batch``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from eventlake.config import Settings
from eventlake.consumer.consumer import DatasetConsumer
from eventlake.consumer.reports import BatchReport, DatasetReport, DrainReport
from eventlake.contracts import DATASETS
from eventlake.lake.watermark import WatermarkOverlapError
from eventlake.lake.writer import Lake
from eventlake.state import StateStore, driver_message, open_state, state_database_of

log = logging.getLogger(__name__)


BatchCallback = Callable[[BatchReport], None]


def consume(
    settings: Settings,
    *,
    datasets: Sequence[str] | None = None,
    until_caught_up: bool = False,
    stop: threading.Event | None = None,
    on_batch: BatchCallback | None = None,
    lake: Lake | None = None,
    state: StateStore | None = None,
) -> DrainReport:
    """Consume the datasets' streams into the lake until ``stop`` is set (or, with
    ``until_caught_up``, until every shard is idle). Commits in progress always finish.

    Every consumer (thread or process, on any machine sharing the state database) takes its
    share of the shards by lease. A drain (``until_caught_up``) takes every shard nobody live
    holds, steals none, and returns once they are read and the shards other consumers hold have
    nothing after the lake's watermark: then everything published before it started is in the
    lake, whoever landed it."""
    started = time.monotonic()
    lake = lake or Lake(settings)
    stop = stop or threading.Event()
    report = DrainReport()
    state = state or _open_state(settings, stop, wait=not until_caught_up)
    if state is None:  # stopped while waiting for the state database
        report.seconds = time.monotonic() - started
        return report
    consumers: list[DatasetConsumer] = []
    failures = 0
    failing: set[str] = set()  # datasets whose consumer reported a fault not yet cleared
    try:
        # Inside the try: a dataset that fails to open closes the ones opened before it
        # (their heartbeat threads stop, their leases are given back).
        for dataset in datasets or DATASETS:
            consumer = DatasetConsumer(settings, lake, state, dataset, drain=until_caught_up)
            consumers.append(consumer)
            report.datasets[dataset] = DatasetReport(dataset)
            # A drain fails at once on what it cannot open; a service opens each consumer in
            # its first poll, so that a database or catalog down at start is waited for (with
            # backoff, reported as a fault) like one that goes down later.
            if until_caught_up:
                consumer.open()
        while not stop.is_set():
            idle = True
            for consumer in consumers:
                try:
                    batch = consumer.poll_batch(stop=stop, wait=not until_caught_up)
                    if batch is None:
                        # In the try: a state database that refuses this write (its disk
                        # full, out of reach) is retried with backoff, not the service's end.
                        consumer.record_progress()
                except Exception as error:
                    # A takeover that raced a commit: another consumer committed part of these
                    # positions first. Like any failure, the consumer has reset itself to the
                    # lake; a drain goes on too, unless it happens again and again.
                    overlap = isinstance(error, WatermarkOverlapError) and failures < 3
                    if until_caught_up and not overlap:
                        raise
                    # A service keeps going: the consumer has reset itself to the lake.
                    failures += 1
                    pause = _backoff(settings, failures)
                    _report_fault(state, consumer, error)
                    failing.add(consumer.dataset)
                    database = state_database_of(error)
                    if overlap:  # expected now and then: no traceback
                        log.warning("%s: %s; starting again", consumer.dataset, error)
                    elif database is not None:  # an outage, not a bug: what it waits for
                        log.warning(
                            "%s: waiting for the state database %s (%s); trying again in %.1f s",
                            consumer.dataset,
                            database,
                            _one_line(error),
                            pause,
                        )
                    else:
                        log.exception("%s: batch failed; retrying", consumer.dataset)
                    stop.wait(pause)
                    continue
                failures = 0
                if consumer.dataset in failing and _clear_fault(state, consumer):
                    failing.discard(consumer.dataset)
                if batch is None:
                    continue
                idle = False
                report.datasets[consumer.dataset].add(batch)
                if on_batch is not None:
                    on_batch(batch)
            if idle:
                if until_caught_up and not any(c.waiting_for_shards() for c in consumers):
                    break
                stop.wait(settings.consumer.poll_seconds)
    finally:
        for consumer in consumers:
            if consumer.dataset in failing:
                _clear_fault(state, consumer)  # a consumer that stops no longer fails
            consumer.close()
    report.seconds = time.monotonic() - started
    return report


def _backoff(settings: Settings, failures: int) -> float:
    """The pause after ``failures`` failures in a row: doubled each time, up to the maximum."""
    retry = settings.consumer
    return min(retry.retry_max_seconds, retry.retry_seconds * 2.0 ** (failures - 1))


def _one_line(error: BaseException) -> str:
    """The driver's message with its type, for the log."""
    cause = getattr(error, "orig", None) or error
    text = driver_message(error)
    return f"{type(cause).__name__}: {text}"[:300] if text else type(cause).__name__


def _open_state(settings: Settings, stop: threading.Event, *, wait: bool) -> StateStore | None:
    """The state database, opened. A service started while it is down or locked waits for it
    (with backoff, saying so in its log) instead of exiting; a drain raises. None when
    ``stop`` is set while waiting."""
    failures = 0
    while True:
        try:
            return open_state(
                settings.state_database_url,
                busy_timeout_seconds=settings.consumer.state_busy_timeout_seconds,
            )
        except SQLAlchemyError as error:
            if not wait:
                raise
            failures += 1
            pause = _backoff(settings, failures)
            log.warning(
                "waiting for the state database %s (%s); trying again in %.1f s",
                state_database_of(error) or "",
                _one_line(error),
                pause,
            )
            if stop.wait(pause):
                return None


def _report_fault(state: StateStore, consumer: DatasetConsumer, error: BaseException) -> None:
    """One more failed batch, for /health and /metrics; the state database may be what
    failed, so this is best effort (the log has the error either way)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    try:
        state.record_consumer_fault(
            consumer.group, consumer.consumer_name, f"{type(error).__name__}: {text}"
        )
    except Exception as unrecorded:
        log.warning("%s: could not record the failure: %s", consumer.dataset, unrecorded)


def _clear_fault(state: StateStore, consumer: DatasetConsumer) -> bool:
    """The consumer landed a batch (or found nothing to do) again: whether that was recorded."""
    try:
        state.clear_consumer_fault(consumer.group, consumer.consumer_name)
    except Exception as unrecorded:
        log.warning("%s: could not record the recovery: %s", consumer.dataset, unrecorded)
        return False
    return True


def drain(
    settings: Settings,
    *,
    datasets: Sequence[str] | None = None,
    on_batch: BatchCallback | None = None,
) -> DrainReport:
    """Everything in the streams, into the lake, then return (the ``process`` pipeline)."""
    return consume(settings, datasets=datasets, until_caught_up=True, on_batch=on_batch)
