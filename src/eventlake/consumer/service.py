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

from eventlake.config import Settings
from eventlake.consumer.consumer import DatasetConsumer
from eventlake.consumer.reports import BatchReport, DatasetReport, DrainReport
from eventlake.contracts import DATASETS
from eventlake.lake.watermark import WatermarkOverlapError
from eventlake.lake.writer import Lake
from eventlake.state import StateStore, open_state

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
    state = state or open_state(settings.state_database_url)
    stop = stop or threading.Event()
    report = DrainReport()
    consumers: list[DatasetConsumer] = []
    failures = 0
    failing: set[str] = set()  # datasets whose consumer reported a fault not yet cleared
    try:
        # Inside the try: a dataset that fails to open closes the ones opened before it
        # (their heartbeat threads stop, their leases are given back).
        for dataset in datasets or DATASETS:
            consumer = DatasetConsumer(settings, lake, state, dataset, drain=until_caught_up)
            consumers.append(consumer)
            consumer.open()
            report.datasets[dataset] = DatasetReport(dataset)
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
                    _report_fault(state, consumer, error)
                    failing.add(consumer.dataset)
                    if overlap:  # expected now and then: no traceback
                        log.warning("%s: %s; starting again", consumer.dataset, error)
                    else:
                        log.exception("%s: batch failed; retrying", consumer.dataset)
                    retry = settings.consumer
                    stop.wait(
                        min(retry.retry_max_seconds, retry.retry_seconds * 2 ** (failures - 1))
                    )
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
