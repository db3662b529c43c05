"""The child processes of `eventlake run` (`make run`, `make run-serve`): the API, a consumer
and the dashboard, started as `make serve`, `make consume` and `make dashboard` would start
them, waited for until they answer their health checks, and stopped cleanly (SIGTERM, then
SIGKILL). The load test and the end-to-end tests wait for their API with :func:`wait_for_api`.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import httpx

from eventlake.config import Settings
from eventlake.errors import EventlakeError
from eventlake.ports import free_port, preferred_port

# The name of this run's API key: ingest jobs sent with it are recorded with this source.
SOURCE = "make-run"
START_TIMEOUT_SECONDS = 90.0
# Where `make serve` and `make dashboard` listen; `run --serve` takes them when they are free.
API_PORT = 8000
DASHBOARD_PORT = 8501


class ServiceError(EventlakeError, RuntimeError):
    """A child service stopped, or did not answer its health check in time."""


def wait_for_health(
    health_url: str,
    process: subprocess.Popen[bytes],
    *,
    what: str,
    timeout: float = START_TIMEOUT_SECONDS,
    log: Path | None = None,
    stop_event: threading.Event | None = None,
) -> bool:
    """Poll ``health_url`` until it answers 200: True. False when ``stop_event`` is set
    first; :class:`ServiceError` when ``process`` exits or ``timeout`` passes (naming ``log``,
    where the child wrote why)."""
    see = f"; see {log}" if log is not None else ""
    deadline = time.monotonic() + timeout
    while stop_event is None or not stop_event.is_set():
        if process.poll() is not None:
            raise ServiceError(f"{what} stopped at start (exit code {process.returncode}){see}")
        try:
            if httpx.get(health_url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} did not answer within {timeout:g} s{see}")
        time.sleep(0.2)
    return False


def wait_for_api(
    url: str,
    process: subprocess.Popen[bytes],
    timeout: float = START_TIMEOUT_SECONDS,
    *,
    log: Path | None = None,
) -> None:
    """Until the API at ``url`` (run by ``process``) answers ``/api/v1/health``."""
    wait_for_health(f"{url}/api/v1/health", process, what="the API", timeout=timeout, log=log)


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


def child_env(settings: Settings, api_key: str) -> dict[str, str]:
    env = dict(os.environ)
    env["EVENTLAKE_HOME"] = str(settings.home.resolve())
    # A key for this run only, handed to the child in its environment (never on a command
    # line, where `ps` would show it).
    env["EVENTLAKE_API_KEYS"] = f"{SOURCE}:{api_key}"
    return env


def eventlake_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "eventlake.cli", *args]


@contextmanager
def local_services(settings: Settings, *, port: int | None = None) -> Iterator[Services]:
    """API and consumer up (the API answering /health), stopped cleanly on the way out."""
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    api_key = secrets.token_urlsafe(24)
    env = child_env(settings, api_key)
    port = port or free_port()
    with (logs / "api.log").open("ab") as api_log:
        api = subprocess.Popen(  # noqa: S603 — an argument list of our own executable, no shell
            eventlake_command("serve", "--port", str(port)), env=env, stdout=api_log, stderr=api_log
        )
    services = Services(f"http://127.0.0.1:{port}", api_key, api, None, logs)
    try:
        wait_for_api(services.api_url, api, log=logs / "api.log")
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
        return subprocess.Popen(  # noqa: S603 — an argument list of our own executable, no shell
            eventlake_command("consume"), env=env, stdout=consumer_log, stderr=consumer_log
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


# --- serving until stopped (eventlake run --serve) ---------------------------------------------


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

    env = child_env(settings, services.api_key)
    env[API_URL_ENV] = services.api_url
    env[API_KEY_ENV] = services.api_key
    with (services.logs / "dashboard.log").open("ab") as dashboard_log:
        return subprocess.Popen(  # noqa: S603 — our interpreter running streamlit, an argument list, no shell
            streamlit_command("127.0.0.1", port),
            env=env,
            stdout=dashboard_log,
            stderr=dashboard_log,
        )


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
    only), on Ctrl-C, SIGTERM or SIGHUP; raises :class:`ServiceError` when one of the three
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
            raise ServiceError(f"the API has stopped; see {services.logs / 'api.log'}")
        consumer = services.consumer
        if consumer is None or consumer.poll() is not None:
            env = child_env(settings, services.api_key)
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
            dashboard_up = wait_for_health(
                f"{serving.dashboard_url}/_stcore/health",
                dashboard,
                what="the dashboard",
                log=services.logs / "dashboard.log",
                stop_event=stop_event,
            )
            if not dashboard_up:
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
                        raise ServiceError(
                            f"the {name} stopped (exit code {child.returncode}); "
                            f"see {services.logs / log}"
                        )
        finally:
            stop(dashboard, timeout=15)
