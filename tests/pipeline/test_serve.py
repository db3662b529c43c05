"""`eventlake run --serve`'s last part, on its own: serve_until_stopped keeps the API and a
consumer running, starts the dashboard, and stops it all on SIGTERM or a stop event.

The main job itself (minutes) is not run: the services are started on an empty home, as
`run --serve` starts them before the job, with the consumer stopped, as the job leaves it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventlake.config import get_settings
from eventlake.pipeline.supervisor import (
    ServiceError,
    Services,
    Serving,
    serve_until_stopped,
    stop,
)
from tests.ports import free_port

SERVE = """
import json, sys
from pathlib import Path
from eventlake.config import get_settings
from eventlake.pipeline.supervisor import local_services, serve_until_stopped, stop

settings = get_settings()
with local_services(settings) as services:
    stop(services.consumer)  # as the main job leaves it: the pipeline's tasks drain the stream
    services.consumer = None

    def ready(serving):
        facts = {
            "api_url": serving.api_url,
            "api_key": serving.api_key,
            "dashboard_url": serving.dashboard_url,
            "reports": serving.reports,
            "pids": {name: child.pid for name, child in serving.processes.items()},
        }
        Path(sys.argv[2]).write_text(json.dumps(facts))

    serve_until_stopped(settings, services, dashboard_port=int(sys.argv[1]), on_ready=ready)
print("served and stopped", flush=True)
"""


def _wait_for(condition: Any, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _check_everything_answers(facts: dict[str, Any]) -> None:
    api, key = facts["api_url"], facts["api_key"]
    assert httpx.get(f"{api}/api/v1/health", timeout=5).status_code == 200
    assert httpx.get(f"{api}/docs", timeout=5).status_code == 200
    dashboard = httpx.get(f"{facts['dashboard_url']}/_stcore/health", timeout=5)
    assert dashboard.status_code == 200
    # The key handed to the dashboard (and printed) opens the API.
    metrics = httpx.get(f"{api}/api/v1/metrics", headers={"X-API-Key": key}, timeout=5)
    assert metrics.status_code == 200
    assert facts["reports"] == {
        "dbt docs": f"{api}/reports/dbt/",
        "Data Docs": f"{api}/reports/quality/",
    }
    # Nothing written yet on an empty home: the routes answer, with 404.
    for url in facts["reports"].values():
        assert httpx.get(url, headers={"X-API-Key": key}, timeout=5).status_code == 404


def test_sigterm_stops_the_dashboard_the_consumer_and_the_api(tmp_path: Path) -> None:
    home = get_settings().home
    facts_file = tmp_path / "serving.json"
    env = {**os.environ, "EVENTLAKE_HOME": str(home)}
    env.pop("EVENTLAKE_API_KEYS", None)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(free_port()), str(facts_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: facts_file.exists() or server.poll() is not None, "serving")
        assert server.poll() is None, server.communicate()[0].decode()[-3000:]
        facts = json.loads(facts_file.read_text())
        pids: dict[str, int] = facts["pids"]
        assert set(pids) == {"API", "consumer", "dashboard"}
        assert all(_alive(pid) for pid in pids.values())
        _check_everything_answers(facts)

        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, out.decode()[-3000:]
    assert "served and stopped" in out.decode()
    assert not [name for name, pid in pids.items() if _alive(pid)]
    logs = home / "logs"
    assert "Stopping..." in (logs / "dashboard.log").read_text()  # Streamlit's clean exit


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[Services]:
    """Services whose API and consumer are idle processes: enough for what serve_until_stopped
    does with them (watch them), without the seconds a real API takes to start."""

    def idle() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])

    logs = tmp_path / "logs"
    logs.mkdir()
    services = Services(f"http://127.0.0.1:{free_port()}", "a-key", idle(), idle(), logs)
    try:
        yield services
    finally:
        for child in (services.api, services.consumer):
            if child is not None:
                stop(child, timeout=5)


def _serve_in_a_thread(
    services: Services, stop_event: threading.Event
) -> tuple[threading.Thread, list[Serving], list[BaseException]]:
    ready: list[Serving] = []
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            serve_until_stopped(
                get_settings(),
                services,
                dashboard_port=free_port(),
                stop_event=stop_event,
                on_ready=ready.append,
                poll_seconds=0.1,
            )
        except BaseException as error:  # handed over to the test's thread
            errors.append(error)

    thread = threading.Thread(target=serve)
    thread.start()
    return thread, ready, errors


def test_a_stop_event_ends_serving(stand_ins: Services) -> None:
    stop_event = threading.Event()
    thread, ready, errors = _serve_in_a_thread(stand_ins, stop_event)
    try:
        _wait_for(lambda: ready or errors, "serving")
        assert not errors, errors
        [serving] = ready
        assert serving.processes["consumer"] is stand_ins.consumer  # running: kept, not restarted
        assert httpx.get(f"{serving.dashboard_url}/_stcore/health").status_code == 200
    finally:
        stop_event.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert not errors, errors
    assert serving.processes["dashboard"].poll() is not None
    # The API and the consumer are the caller's (local_services stops them).
    assert stand_ins.api.poll() is None
    assert stand_ins.consumer is not None
    assert stand_ins.consumer.poll() is None


def test_a_child_that_stops_by_itself_ends_serving_with_an_error(stand_ins: Services) -> None:
    stop_event = threading.Event()
    thread, ready, errors = _serve_in_a_thread(stand_ins, stop_event)
    try:
        _wait_for(lambda: ready or errors, "serving")
        assert not errors, errors
        assert stand_ins.consumer is not None
        stand_ins.consumer.kill()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        stop_event.set()
        thread.join(timeout=30)
    [error] = errors
    assert isinstance(error, ServiceError)
    assert "the consumer stopped" in str(error)
    assert "consumer.log" in str(error)
    assert ready[0].processes["dashboard"].poll() is not None


def test_a_stop_event_set_before_the_dashboard_answers_returns_at_once(
    stand_ins: Services,
) -> None:
    stop_event = threading.Event()
    stop_event.set()
    ready: list[Serving] = []
    began = time.monotonic()
    serve_until_stopped(
        get_settings(),
        stand_ins,
        dashboard_port=free_port(),
        stop_event=stop_event,
        on_ready=ready.append,
    )
    assert ready == []
    assert time.monotonic() - began < 15


def test_a_dead_api_is_reported_before_anything_starts(stand_ins: Services) -> None:
    stop(stand_ins.api)
    with pytest.raises(ServiceError, match="the API has stopped"):
        serve_until_stopped(get_settings(), stand_ins, stop_event=threading.Event())
    assert not (stand_ins.logs / "dashboard.log").exists()
