"""`eventlake run`'s summary says where to browse, and `run --serve` serves after it: the CLI's
part, with the job and the services replaced (the real ones: tests/e2e, test_serve.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eventlake import ports
from eventlake.cli import app, common
from eventlake.config import Settings
from eventlake.pipeline import main_job, supervisor
from eventlake.pipeline.main_job import DatasetTally, MainJobReport
from eventlake.pipeline.supervisor import Serving

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The summary's rows unwrapped. COLUMNS alone is not enough: under pytest-xdist the CLI's
    console was built with a fixed width before the test could set it."""
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(common.console, "width", 250)


def _report(api_url: str = "http://127.0.0.1:40123") -> MainJobReport:
    return MainJobReport(
        manifest={"files": {"events.ndjson": {"valid": 90, "duplicate": 6, "invalid": 4}}},
        tallies={
            "events": DatasetTally(
                received=100, accepted=96, rejected=4, landed=90, duplicates=6, dead_lettered=4
            )
        },
        loads=[
            {
                "run_dbt": {"models_built": 9, "tests_passed": 30, "tests_failed": 0},
                "quality_checks": {
                    "summary": "quality gate passed",
                    "data_docs": "/home/.eventlake/reports/quality/data_docs/index.html",
                },
            }
        ],
        api_url=api_url,
        seconds=12.5,
    )


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_without_serve_the_summary_says_where_eventlake_serve_shows_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    def run_main_job(settings: Settings, **kwargs: Any) -> MainJobReport:
        calls.append(kwargs)
        return _report()

    monkeypatch.setattr(main_job, "run_main_job", run_main_job)
    result = runner.invoke(app, ["run", "--events", "100"])
    assert result.exit_code == 0, result.output
    assert calls[0]["services"] is None  # the job starts and stops its own
    out = _flat(result.output)
    assert (
        "http://127.0.0.1:8000/docs once eventlake serve runs (this run's API has stopped)" in out
    )
    assert "http://127.0.0.1:8501 once eventlake dashboard runs" in out
    assert "http://127.0.0.1:8000/reports/dbt/ once eventlake serve runs" in out
    assert "http://127.0.0.1:8000/reports/quality/ likewise" in out
    assert "eventlake run --serve: the same run, then serves them until Ctrl-C" in out
    assert "40123" not in out  # the job's own API, stopped by now
    assert "Serving until" not in out


def test_serve_serves_after_the_summary_on_the_jobs_services(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    events: list[str] = []
    services = object()

    @contextmanager
    def local_services(settings: Settings, *, port: int | None = None) -> Iterator[object]:
        events.append(f"start services on {port}")
        yield services
        events.append("stop services")

    def run_main_job(settings: Settings, **kwargs: Any) -> MainJobReport:
        assert kwargs["services"] is services
        events.append("job")
        return _report("http://127.0.0.1:8000")

    def serve_until_stopped(settings: Settings, served: object, **kwargs: Any) -> None:
        assert served is services
        assert threading.current_thread() is threading.main_thread()
        assert "stop_event" not in kwargs  # so: until SIGINT or SIGTERM
        events.append("serve")
        kwargs["on_ready"](
            Serving(
                api_url="http://127.0.0.1:8000",
                api_key="the-session-key",
                dashboard_url="http://127.0.0.1:8501",
                reports={
                    "dbt docs": "http://127.0.0.1:8000/reports/dbt/",
                    "Data Docs": "http://127.0.0.1:8000/reports/quality/",
                },
                processes={},
                logs=tmp_path,
            )
        )

    monkeypatch.setattr(supervisor, "local_services", local_services)
    monkeypatch.setattr(main_job, "run_main_job", run_main_job)
    monkeypatch.setattr(supervisor, "serve_until_stopped", serve_until_stopped)
    monkeypatch.setattr(ports, "preferred_port", lambda port: port)
    result = runner.invoke(app, ["run", "--events", "100", "--serve"])
    assert result.exit_code == 0, result.output
    assert events == ["start services on 8000", "job", "serve", "stop services"]
    out = _flat(result.output)
    assert out.index("landed in Iceberg") < out.index("Serving until Ctrl-C")
    assert "once eventlake serve runs" not in out
    for url in (
        "http://127.0.0.1:8000/docs",
        "http://127.0.0.1:8501",
        "http://127.0.0.1:8000/reports/dbt/",
        "http://127.0.0.1:8000/reports/quality/",
    ):
        assert url in out
    assert "the-session-key" in out
    assert "Stopped the dashboard, the consumer and the API." in out


def test_serve_needs_the_api() -> None:
    result = runner.invoke(app, ["run", "--files", "--serve"])
    assert result.exit_code == 2
    assert "--serve" in result.output


def test_preferred_port_falls_back_to_a_free_one() -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        other = ports.preferred_port(taken)
    assert other != taken
    assert ports.preferred_port(other) == other
