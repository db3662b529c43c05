"""`eventlake task TASK_ID`: one DAG step as its Airflow task runs it (the image's command for
each task in production: dags/app_env.py's ECS mode), its summary as the output's last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventlake.cli import app
from eventlake.cli.task import SHOWN, WAREHOUSE_TASKS, known_tasks
from eventlake.config import Settings, get_settings
from eventlake.pipeline.pipelines import DAGS
from eventlake.state import StateStore
from tests.test_cli_imports import _probe

runner = CliRunner()


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_step_runs_end_to_end_and_its_summary_is_the_last_line(tmp_path: Path) -> None:
    """The console script, as the container runs it: exit 0, and the last line on stdout is
    the step's summary as JSON (EcsRunTaskOperator's XCom is the log's last line)."""
    home = tmp_path / "home"
    script = Path(sys.executable).with_name("eventlake")
    result = subprocess.run(
        [str(script), "task", "update_dashboard"],
        env={**os.environ, "EVENTLAKE_HOME": str(home)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    last = result.stdout.splitlines()[-1]
    summary = json.loads(last)
    marker = home / "reports" / "dashboard" / "refreshed.json"
    assert summary == {"marker": str(marker), **json.loads(marker.read_text())}


def test_a_failing_step_exits_1_with_its_reason_and_is_recorded_as_airflow_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    """The quality gates on a home with no warehouse: exit 1, the reason in one line, and the
    gate recorded as a failed run of source airflow, as the local Airflow task records it."""
    home = tmp_path / "home"
    monkeypatch.setenv("EVENTLAKE_HOME", str(home))
    result = runner.invoke(app, ["task", "quality_checks"])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # no summary: the XCom is not a success's
    assert "quality_checks could not run" in result.stderr
    assert "no warehouse at" in result.stderr
    with StateStore(Settings(home=home).state_database_url) as state:
        run = state.last_run("quality")
    assert run is not None
    assert (run["status"], run["source"]) == ("failed", "airflow")


def test_an_unknown_task_is_a_usage_error_listing_the_tasks(tmp_path: Path) -> None:
    result = runner.invoke(app, ["task", "run_dbtt"])
    assert result.exit_code == 2
    assert result.stdout == ""
    message = " ".join(result.stderr.split())
    assert "no DAG task 'run_dbtt'; the tasks: " in message
    listed = message.split("the tasks: ")[1].split(", ")
    assert listed == [step.name for dag in DAGS.values() for step in dag.steps]
    # Refused before anything heavy loads (and before the settings are read).
    assert _probe(tmp_path, ["task", "run_dbtt"]) == 2


@pytest.mark.parametrize(
    "argument",
    [
        "x" * 100_000,
        "run_dbt\nrm -rf /",
        "\x1b]0;owned\x07\x1b[2Jquality_checks",
        "run_dbt\u202e",
        "../../etc/passwd",
        "",
    ],
)
def test_a_hostile_task_id_is_refused_in_one_safe_line(argument: str) -> None:
    """Whatever the argument holds, the error is one line, escaped and bounded: no terminal
    escape sequence, newline or megabyte reaches the log."""
    result = runner.invoke(app, ["task", argument])
    assert result.exit_code == 2
    assert result.stdout == ""
    error = result.stderr.rstrip("\n")
    assert error.startswith("Error: no DAG task ")
    assert "\n" not in error
    assert error.isprintable()
    assert len(error) < SHOWN * 5 + 300


def test_an_option_like_task_id_is_a_usage_error() -> None:
    result = runner.invoke(app, ["task", "--run_dbt"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_the_warehouse_tasks_are_dag_tasks() -> None:
    """The extra check's list follows the DAGs: a renamed task would otherwise skip it."""
    assert WAREHOUSE_TASKS.issubset(known_tasks())
    assert {"ingest_data", "process_with_rust", "compact_lake"}.isdisjoint(WAREHOUSE_TASKS)
