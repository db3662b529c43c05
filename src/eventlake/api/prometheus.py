"""``GET /metrics`` in the Prometheus text format, read from the state database on each scrape.

The figures come from the database, not from counters in this process, so every worker of
``uvicorn --workers N`` answers the same totals and a restart loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# (metric name without _total, key in StateStore.metrics(), help)
EVENT_COUNTERS = (
    ("eventlake_ingest_jobs", "jobs", "Ingest requests recorded as jobs."),
    ("eventlake_events_received", "events_received", "Records received by the API."),
    ("eventlake_events_accepted", "events_accepted", "Records that passed validation."),
    ("eventlake_events_rejected", "events_rejected", "Records rejected by the API."),
    ("eventlake_events_landed", "events_landed", "Events committed to the lake."),
    ("eventlake_events_dead_lettered", "events_dead_lettered", "Records sent to dead-letter."),
    ("eventlake_events_duplicates", "events_duplicates", "Events dropped as duplicates."),
)


class StateCollector(Collector):
    def __init__(self, metrics: Callable[[], dict[str, Any]]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "eventlake_state_up", "1 when the job database answered this scrape, else 0."
        )
        try:
            metrics = self._metrics()
        except Exception as error:  # a scrape must still answer, saying the state is down
            log.warning("metrics: the job database did not answer: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for name, key, text in EVENT_COUNTERS:
            yield CounterMetricFamily(name, text, value=metrics[key])
        for key in ("accepted_per_second", "landed_per_second"):
            rate = GaugeMetricFamily(
                f"eventlake_events_{key}",
                f"Events {key.split('_')[0]} per second over the last "
                f"{metrics['window_seconds']:g} s.",
            )
            rate.add_metric([], metrics[key])
            yield rate
        lag = GaugeMetricFamily(
            "eventlake_consumer_lag",
            "How far each consumer is behind the newest record of a shard (records for the "
            "embedded stream, milliseconds for Kinesis).",
            labels=["stream", "shard_id", "consumer"],
        )
        for shard in metrics["consumer_lag"]:
            if shard["behind"] is not None:
                lag.add_metric(
                    [shard["stream"], shard["shard_id"], shard["consumer"]], shard["behind"]
                )
        yield lag
        failing = GaugeMetricFamily(
            "eventlake_consumer_failed_batches",
            "Batches in a row a consumer failed to land (it retries with backoff); gone once "
            "it commits again.",
            labels=["consumer_group", "consumer"],
        )
        for fault in metrics.get("consumer_faults", ()):
            labels = [fault["consumer_group"], fault["consumer"]]
            failing.add_metric(labels, fault["failed_batches"])
        yield failing
        yield from _warehouse_metrics(metrics["last_runs"])
        commit = metrics["last_commit"]
        if commit is not None:
            last = GaugeMetricFamily(
                "eventlake_last_commit_timestamp_seconds",
                "When the consumer last committed to the lake (Unix time).",
                labels=["table"],
            )
            last.add_metric([commit["table"]], commit["committed_at"])
            yield last


def build_registry(metrics: Callable[[], dict[str, Any]]) -> CollectorRegistry:
    """A registry of this app's own (not the process-global default one, so that several
    apps in one process, as in tests, do not collide)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(metrics))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def _warehouse_metrics(last_runs: dict[str, dict[str, Any] | None]) -> Iterator[Metric]:
    """The last transform (dbt) and quality runs: when, whether they passed, their counts."""
    succeeded = GaugeMetricFamily(
        "eventlake_last_run_succeeded",
        "1 when the last run of the pipeline succeeded, 0 when it failed.",
        labels=["pipeline"],
    )
    finished = GaugeMetricFamily(
        "eventlake_last_run_finished_timestamp_seconds",
        "When the last run of the pipeline finished (Unix time).",
        labels=["pipeline"],
    )
    for name, run in last_runs.items():
        if run is not None:
            succeeded.add_metric([name], 1 if run["status"] == "succeeded" else 0)
            finished.add_metric([name], run["finished_at"] or 0)
    yield succeeded
    yield finished
    transform = (last_runs.get("transform") or {}).get("result") or {}
    if "models_built" in transform:
        models = GaugeMetricFamily("eventlake_dbt_models_built", "Models the last dbt build built.")
        models.add_metric([], transform["models_built"])
        yield models
        tests = GaugeMetricFamily(
            "eventlake_dbt_tests", "dbt tests of the last build by outcome.", labels=["outcome"]
        )
        for outcome in ("passed", "failed", "warned"):
            tests.add_metric([outcome], transform.get(f"tests_{outcome}", 0))
        yield tests
