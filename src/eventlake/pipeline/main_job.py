"""`eventlake run` / `make run`: the whole pipeline on one machine, over real HTTP.

It starts the API and a consumer as child processes (as `make serve` and `make consume` would),
sends generated traffic to the API in batches, waits until the consumer has committed every
accepted batch, then runs the data pipeline (`pipelines.DATA_PIPELINE`, the DAG's tasks in its
order), recorded as a run like any other.
It does that twice: the sample first, then a second load with the profile changes of some users
and more events, so the warehouse records a renamed user's two versions as it would in
production, where the pipeline runs on a schedule.

With ``eventlake run --serve`` (`make run-serve`) it then keeps serving
(:func:`serve_until_stopped`): the API, a consumer and the dashboard, until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from eventlake.config import Settings
from eventlake.errors import EventlakeError
from eventlake.pipeline.tasks import AnswerTally
from eventlake.ports import free_port, preferred_port

SOURCE = "make-run"
BATCH_LINES = 500
START_TIMEOUT_SECONDS = 90.0
# Where `make serve` and `make dashboard` listen; `run --serve` takes them when they are free.
API_PORT = 8000
DASHBOARD_PORT = 8501
CATCH_UP_TIMEOUT_SECONDS = 600.0

StepCallback = Callable[[str, str], None]
"""Called as (step name, "start" | "done" | "failed")."""
Advance = Callable[[int], None]


class MainJobError(EventlakeError, RuntimeError):
    pass


@dataclass
class Services:
    """The API and the consumer, running as child processes."""

    api_url: str
    api_key: str
    api: subprocess.Popen[bytes]
    consumer: subprocess.Popen[bytes] | None
    logs: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers={"X-API-Key": self.api_key}, timeout=60)


def _child_env(settings: Settings, api_key: str) -> dict[str, str]:
    env = dict(os.environ)
    env["EVENTLAKE_HOME"] = str(settings.home.resolve())
    # A key for this run only, handed to the child in its environment (never on a command
    # line, where `ps` would show it).
    env["EVENTLAKE_API_KEYS"] = f"{SOURCE}:{api_key}"
    return env


def _eventlake(*args: str) -> list[str]:
    return [sys.executable, "-m", "eventlake.cli", *args]


@contextmanager
def local_services(settings: Settings, *, port: int | None = None) -> Iterator[Services]:
    """API and consumer up (the API answering /health), stopped cleanly on the way out."""
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    api_key = secrets.token_urlsafe(24)
    env = _child_env(settings, api_key)
    port = port or free_port()
    with (logs / "api.log").open("ab") as api_log:
        api = subprocess.Popen(
            _eventlake("serve", "--port", str(port)), env=env, stdout=api_log, stderr=api_log
        )
    services = Services(f"http://127.0.0.1:{port}", api_key, api, None, logs)
    try:
        _wait_for_health(services)
        services.consumer = start_consumer(settings, env, logs)
        yield services
    finally:
        try:
            if services.consumer is not None:
                stop(services.consumer)
        finally:  # even when a second Ctrl-C cuts the consumer's stop short
            stop(api)


def start_consumer(settings: Settings, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / "consumer.log").open("ab") as consumer_log:
        return subprocess.Popen(
            _eventlake("consume"), env=env, stdout=consumer_log, stderr=consumer_log
        )


def stop(child: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM (the consumer commits the batch in hand, the API drains), then SIGKILL."""
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    except BaseException:  # interrupted while waiting (a second Ctrl-C): no orphan either
        child.kill()
        child.wait()
        raise


def _wait_for_health(services: Services) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if services.api.poll() is not None:
            raise MainJobError(f"the API stopped at start; see {services.logs / 'api.log'}")
        try:
            if httpx.get(f"{services.api_url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise MainJobError(f"the API did not answer in time; see {services.logs / 'api.log'}")
        time.sleep(0.2)


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
        env = _child_env(settings, services.api_key)
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


# --- serving after the run ----------------------------------------------------------------------


@dataclass
class Serving:
    """What :func:`serve_until_stopped` keeps running, and where."""

    api_url: str
    api_key: str
    dashboard_url: str
    reports: dict[str, str]  # report site name (dbt docs, Data Docs) -> its URL on the API
    processes: dict[str, subprocess.Popen[bytes]]  # "API", "consumer", "dashboard"
    logs: Path

    @property
    def docs_url(self) -> str:
        return f"{self.api_url}/docs"


def start_dashboard(settings: Settings, services: Services, port: int) -> subprocess.Popen[bytes]:
    """The dashboard on loopback, as `eventlake dashboard` runs it (Streamlit, started directly:
    not through the CLI, whose imports take seconds), reading this home and this API, with
    this run's key handed over in its environment."""
    from eventlake.dashboard import streamlit_command
    from eventlake.dashboard.health import API_KEY_ENV, API_URL_ENV

    env = _child_env(settings, services.api_key)
    env[API_URL_ENV] = services.api_url
    env[API_KEY_ENV] = services.api_key
    with (services.logs / "dashboard.log").open("ab") as dashboard_log:
        return subprocess.Popen(
            streamlit_command("127.0.0.1", port),
            env=env,
            stdout=dashboard_log,
            stderr=dashboard_log,
        )


def _wait_for_dashboard(
    dashboard: subprocess.Popen[bytes], url: str, logs: Path, stop_event: threading.Event
) -> bool:
    """True once Streamlit answers its health check; False if ``stop_event`` was set first."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not stop_event.is_set():
        if dashboard.poll() is not None:
            raise MainJobError(f"the dashboard stopped at start; see {logs / 'dashboard.log'}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise MainJobError(
                f"the dashboard did not answer in time; see {logs / 'dashboard.log'}"
            )
        time.sleep(0.2)
    return False


@contextmanager
def _stop_on_signals(stop_event: threading.Event) -> Iterator[None]:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP set ``stop_event`` rather than end the process at
    once; the previous handlers come back on the way out."""

    def request_stop(_signum: int, _frame: object) -> None:
        stop_event.set()

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {number: signal.signal(number, request_stop) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def serve_until_stopped(
    settings: Settings,
    services: Services,
    *,
    dashboard_port: int | None = None,
    stop_event: threading.Event | None = None,
    on_ready: Callable[[Serving], None] | None = None,
    poll_seconds: float = 0.5,
) -> None:
    """Serve until stopped: the API of ``services`` (from :func:`local_services`), its
    consumer (started again if the run stopped it, so that new traffic still lands) and the
    dashboard (`eventlake dashboard`, started here). ``on_ready`` gets the URLs once all
    three answer.

    Returns when ``stop_event`` is set or, with no ``stop_event`` (then from the main thread
    only), on Ctrl-C, SIGTERM or SIGHUP; raises :class:`MainJobError` when one of the three
    stops by itself. On the way out the dashboard is stopped (SIGTERM, then SIGKILL); the API
    and the consumer are left to :func:`local_services`, which stops them as it always does."""
    from eventlake.report_sites import SITES

    if stop_event is None:
        stop_event = threading.Event()
        guard: AbstractContextManager[None] = _stop_on_signals(stop_event)
    else:
        guard = nullcontext()
    with guard:
        if services.api.poll() is not None:
            raise MainJobError(f"the API has stopped; see {services.logs / 'api.log'}")
        consumer = services.consumer
        if consumer is None or consumer.poll() is not None:
            env = _child_env(settings, services.api_key)
            consumer = services.consumer = start_consumer(settings, env, services.logs)
        port = dashboard_port or preferred_port(DASHBOARD_PORT)
        dashboard = start_dashboard(settings, services, port)
        try:
            serving = Serving(
                api_url=services.api_url,
                api_key=services.api_key,
                dashboard_url=f"http://127.0.0.1:{port}",
                reports={site.name: site.url(services.api_url) for site in SITES.values()},
                processes={
                    "API": services.api,
                    "consumer": consumer,
                    "dashboard": dashboard,
                },
                logs=services.logs,
            )
            if not _wait_for_dashboard(dashboard, serving.dashboard_url, services.logs, stop_event):
                return
            if on_ready is not None:
                on_ready(serving)
            # Polled, not stop_event.wait(): a signal handler that sets the event while this
            # thread holds the event's lock (inside wait) would deadlock.
            while not stop_event.is_set():
                time.sleep(poll_seconds)
                for name, child in serving.processes.items():
                    if child.poll() is not None and not stop_event.is_set():
                        log = "api.log" if name == "API" else f"{name}.log"
                        raise MainJobError(
                            f"the {name} stopped (exit code {child.returncode}); "
                            f"see {services.logs / log}"
                        )
        finally:
            stop(dashboard, timeout=15)
