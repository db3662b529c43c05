"""`eventlake run` / `make run`: the whole pipeline on one machine, over real HTTP.

It starts the API and a consumer as child processes (as `make serve` and `make consume` would),
sends generated traffic to the API in batches, waits until the consumer has committed every
accepted batch, then runs the data pipeline (`pipelines.DATA_PIPELINE`, the DAG's tasks in its
order), recorded as a run like any other.
It does that twice: the sample first, then a second load with the profile changes of some users
and more events, so the warehouse records a renamed user's two versions as it would in
production, where the pipeline runs on a schedule.

The child processes (the API, a consumer, with ``eventlake run --serve`` the dashboard too) are
:mod:`eventlake.pipeline.supervisor`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from eventlake.config import Settings
from eventlake.pipeline.runs import StepCallback
from eventlake.pipeline.supervisor import (
    SOURCE,
    ServiceError,
    Services,
    child_env,
    local_services,
    start_consumer,
    stop,
)
from eventlake.pipeline.tasks import AnswerTally

BATCH_LINES = 500
CATCH_UP_TIMEOUT_SECONDS = 600.0

Advance = Callable[[int], None]


class MainJobError(ServiceError):
    """The job's traffic or its consumer failed (a ServiceError too: one ``except`` for both)."""


# --- traffic ----------------------------------------------------------------------------------


def batches(lines: Sequence[str], size: int = BATCH_LINES) -> Iterator[bytes]:
    for start in range(0, len(lines), size):
        yield "".join(
            line if line.endswith("\n") else line + "\n" for line in lines[start : start + size]
        ).encode()


def post_lines(
    client: httpx.Client,
    dataset: str,
    lines: Sequence[str],
    *,
    key_prefix: str,
    advance: Advance | None = None,
) -> AnswerTally:
    """POST NDJSON batches, each under its own Idempotency-Key, so a retry after a lost answer
    or a 503 publishes nothing twice."""
    sent = AnswerTally()
    for index, body in enumerate(batches(lines)):
        answer = _post_with_retries(client, dataset, body, f"{key_prefix}-{index}")
        sent.add(answer)
        if advance is not None:
            advance(body.count(b"\n"))
    return sent


def _post_with_retries(client: httpx.Client, dataset: str, body: bytes, key: str) -> dict[str, Any]:
    delay = 0.2
    for attempt in range(8):
        try:
            response = client.post(
                "/api/v1/ingest",
                params={"dataset": dataset},
                content=body,
                headers={"Content-Type": "application/x-ndjson", "Idempotency-Key": key},
            )
        except httpx.TransportError as error:
            if attempt == 7:
                raise MainJobError(f"the API did not answer: {error}") from error
        else:
            if response.status_code in (202, 422):  # 422: every record of the batch rejected
                answer: dict[str, Any] = response.json()
                return answer
            if response.status_code != 503 or attempt == 7:
                raise MainJobError(
                    f"POST /api/v1/ingest ({dataset}) answered {response.status_code}: "
                    f"{response.text[:500]}"
                )
        time.sleep(delay)
        delay = min(delay * 2, 5)
    raise AssertionError("unreachable")


def wait_until_committed(
    settings: Settings, jobs: Sequence[str], *, advance: Advance | None = None
) -> None:
    """Until the consumer has committed every job (its rows and dead letters are in the lake)."""
    from eventlake.state import StateStore

    state = StateStore(settings.state_database_url)
    waiting = set(jobs)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
    try:
        while waiting:
            done = {j for j in waiting if (job := state.job(j)) and job["status"] == "committed"}
            waiting -= done
            if advance is not None and done:
                advance(len(done))
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise MainJobError(
                    f"{len(waiting)} jobs were not committed in {CATCH_UP_TIMEOUT_SECONDS:.0f} s; "
                    f"see {settings.home / 'logs' / 'consumer.log'}"
                )
            time.sleep(0.25)
    finally:
        state.close()


# --- the job ------------------------------------------------------------------------------------

ProgressFactory = Callable[[str, int | None], Advance]
"""progress(description, total) -> advance(n): one progress bar per step."""


@dataclass
class DatasetTally:
    """Per dataset, what the API and then the consumer reported for this run's jobs."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0
    landed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0


@dataclass
class MainJobReport:
    manifest: dict[str, Any]
    tallies: dict[str, DatasetTally]
    loads: list[dict[str, Any]]  # per load: the pipeline tasks' results by task name
    api_url: str
    seconds: float

    @property
    def events(self) -> DatasetTally:
        return self.tallies.get("events", DatasetTally())

    def expected_events(self) -> dict[str, int]:
        files = self.manifest["files"]["events.ndjson"]
        return {
            "valid": files["valid"],
            "duplicate": files["duplicate"],
            "invalid": files["invalid"],
        }

    @property
    def reconciles(self) -> bool:
        """Every generated event accounted for: landed once, dead-lettered, or a duplicate."""
        want = self.expected_events()
        got = self.events
        # The consumer dead-letters the records the API rejected inside accepted batches.
        return (got.landed, got.duplicates, got.dead_lettered) == (
            want["valid"],
            want["duplicate"],
            want["invalid"],
        )


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def run_main_job(
    settings: Settings,
    *,
    events: int,
    seed: int,
    warehouse: bool = True,
    progress: ProgressFactory,
    on_step: StepCallback,
    services: Services | None = None,
) -> MainJobReport:
    """The job, on ``services`` (from :func:`local_services`; left running, but with its
    consumer stopped) or, when None, on services of its own, stopped on return."""
    from eventlake.pipeline.pipelines import DATA_PIPELINE, PROCESS
    from eventlake.pipeline.runs import run_pipeline
    from eventlake.sample_data import SampleConfig, write_sample

    began = time.perf_counter()
    settings.home.mkdir(parents=True, exist_ok=True)
    samples = settings.home / "samples"
    config = SampleConfig(events=events, seed=seed)
    generated = progress("generating sample", config.events)
    sample = write_sample(samples, config, ("ndjson",), progress=generated)
    event_lines = _lines(samples / "events.ndjson")
    half = len(event_lines) // 2
    prefix = f"run-s{seed}-n{events}"
    first = {
        "users": _lines(samples / "users.ndjson"),
        "products": _lines(samples / "products.ndjson"),
        "events": event_lines[:half],
    }
    second = {"users": _lines(samples / "user_renames.ndjson"), "events": event_lines[half:]}
    pipeline = DATA_PIPELINE if warehouse else PROCESS
    loads: list[dict[str, Any]] = []
    all_jobs: dict[str, list[str]] = {}
    owned: AbstractContextManager[Services] = (
        local_services(settings) if services is None else nullcontext(services)
    )
    with owned as services, services.client() as client:
        env = child_env(settings, services.api_key)
        for number, load in enumerate((first, second), start=1):
            if services.consumer is None:
                services.consumer = start_consumer(settings, env, services.logs)
            sent_jobs: list[str] = []
            for dataset, lines in load.items():
                advance = progress(f"load {number}: POST {dataset}", len(lines))
                sent = post_lines(
                    client,
                    dataset,
                    lines,
                    key_prefix=f"{prefix}-{number}-{dataset}",
                    advance=advance,
                )
                sent_jobs += sent.jobs
                all_jobs.setdefault(dataset, []).extend(sent.jobs)
            wait_until_committed(
                settings,
                sent_jobs,
                advance=progress(f"load {number}: consumer commits", len(sent_jobs)),
            )
            # The DAG's process_with_rust drains what is left; one reader per shard at a time.
            stop(services.consumer)
            services.consumer = None
            on_load_step = _prefixed(on_step, f"load {number}")
            run = run_pipeline(settings, pipeline, source=SOURCE, on_step=on_load_step)
            loads.append(run.steps)
        api_url = services.api_url
    return MainJobReport(
        manifest=dict(sample.manifest),
        tallies=_tally(settings, all_jobs),
        loads=loads,
        api_url=api_url,
        seconds=time.perf_counter() - began,
    )


def _prefixed(on_step: StepCallback, prefix: str) -> StepCallback:
    """``on_step`` with each step's name said as ``prefix: step``."""
    return lambda step, status: on_step(f"{prefix}: {step}", status)


def _tally(settings: Settings, jobs: dict[str, list[str]]) -> dict[str, DatasetTally]:
    from eventlake.state import StateStore

    state = StateStore(settings.state_database_url)
    tallies: dict[str, DatasetTally] = {}
    try:
        for dataset, ids in jobs.items():
            tally = tallies.setdefault(dataset, DatasetTally())
            for job_id in dict.fromkeys(ids):  # a replayed answer names the same job
                job = state.job(job_id)
                if job is None:
                    continue
                tally.received += job["received"] or 0
                tally.accepted += job["accepted"] or 0
                tally.rejected += job["rejected"] or 0
                tally.landed += job["landed"] or 0
                tally.duplicates += job["duplicates"] or 0
                tally.dead_lettered += job["dead_lettered"] or 0
    finally:
        state.close()
    return tallies
