"""The named pipelines and the one recorded-run wrapper every entry point uses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from eventlake.config import Settings
from eventlake.errors import RunFailedError
from eventlake.pipeline.pipelines import DAGS, DATA_PIPELINE, PIPELINES, WAREHOUSE, Pipeline, Step
from eventlake.pipeline.runs import UnknownPipelineError, run_pipeline, run_task
from eventlake.state import StateStore

DAG_FILES = Path(__file__).resolve().parents[2] / "dags"


@pytest.mark.parametrize("dag_id", sorted(DAGS))
def test_each_dag_file_lists_its_pipelines_steps_in_order(dag_id: str) -> None:
    """The DAG files cannot import eventlake (Airflow has its own environment): they name the
    tasks themselves, and must name the same steps in the same order."""
    source = (DAG_FILES / f"{dag_id}.py").read_text()
    assert re.findall(r'step\("(\w+)"', source) == [step.name for step in DAGS[dag_id].steps]


def test_the_data_pipeline_ends_with_the_warehouse_steps_and_records_the_gates() -> None:
    names = [step.name for step in DATA_PIPELINE.steps]
    assert names[:2] == ["ingest_data", "process_with_rust"]
    assert DATA_PIPELINE.steps[2:] == WAREHOUSE.steps
    assert {s.name: s.recorded_as for s in WAREHOUSE.steps if s.recorded_as} == {
        "run_dbt": "transform",
        "quality_checks": "quality",
    }
    assert sorted(PIPELINES) == ["pipeline", "process", "quality", "transform"]


def first(settings: Settings) -> Mapping[str, Any]:
    return {"home": str(settings.home)}


def gate(settings: Settings) -> Mapping[str, Any]:
    return {"passed": 3}


def failing_gate(settings: Settings) -> Mapping[str, Any]:
    raise RunFailedError("2 expectations failed", {"passed": 1, "failed": 2})


def never(settings: Settings) -> Mapping[str, Any]:
    raise AssertionError("a step after a failed one must not run")


def _runs(settings: Settings) -> dict[str, dict[str, Any]]:
    with StateStore(settings.state_database_url) as state:
        return {run["name"]: run for run in state.recent_jobs(kind="run", limit=10)}


def test_a_run_records_each_steps_result_and_a_gate_as_its_own_run(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    pipeline = Pipeline("demo", (Step(first), Step(gate, recorded_as="gates")))
    seen: list[tuple[str, str]] = []

    run = run_pipeline(
        settings, pipeline, source="tests", on_step=lambda s, status: seen.append((s, status))
    )

    assert seen == [("first", "start"), ("first", "done"), ("gate", "start"), ("gate", "done")]
    assert run.steps == {"first": {"home": str(tmp_path)}, "gate": {"passed": 3}}
    assert run.result == run.steps
    runs = _runs(settings)
    assert (runs["demo"]["job_id"], runs["demo"]["status"]) == (run.run_id, "succeeded")
    assert runs["demo"]["source"] == runs["gates"]["source"] == "tests"
    assert runs["demo"]["detail"]["result"] == run.result
    assert runs["gates"]["status"] == "succeeded"
    assert runs["gates"]["detail"]["result"] == {"passed": 3}


def test_a_one_step_pipeline_records_that_steps_result_itself(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    run = run_pipeline(settings, Pipeline("single", (Step(gate),)), source="tests")
    assert run.result == {"passed": 3}
    assert run.steps == {"gate": {"passed": 3}}
    assert _runs(settings)["single"]["detail"]["result"] == {"passed": 3}


def test_a_failing_gate_stops_the_run_and_both_records_keep_its_result(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    pipeline = Pipeline("demo", (Step(first), Step(failing_gate, recorded_as="gates"), Step(never)))
    seen: list[tuple[str, str]] = []

    with pytest.raises(RunFailedError, match="2 expectations failed"):
        run_pipeline(settings, pipeline, source="tests", on_step=lambda s, st: seen.append((s, st)))

    assert seen[-1] == ("failing_gate", "failed")
    runs = _runs(settings)
    for name in ("demo", "gates"):
        assert runs[name]["status"] == "failed"
        assert runs[name]["error"] == "2 expectations failed"
        assert runs[name]["detail"]["result"] == {"passed": 1, "failed": 2}


def test_an_airflow_task_runs_only_a_step_of_a_dag(tmp_path: Path) -> None:
    with pytest.raises(UnknownPipelineError):
        run_task("nope", Settings(home=tmp_path))
    result = run_task("update_dashboard", Settings(home=tmp_path))
    assert Path(result["marker"]).is_file()
    assert _runs(Settings(home=tmp_path)) == {}  # not a gate: no run of its own
