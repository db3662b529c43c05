"""The DAGs in the real Airflow environment (`.venv-airflow`), driven from the app's pytest.

Airflow cannot be imported here (its pins clash with the app's: docs/orchestration.md), so each
test runs `airflow_script.py` with `.venv-airflow/bin/python` in an isolated AIRFLOW_HOME and
EVENTLAKE_HOME, and reads back the JSON it writes; the lake and the warehouse are then read
here, with the app's own code. The tasks themselves run in this (the app's) interpreter, as
they do under `make airflow`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eventlake.config import Settings
from eventlake.lake import Lake
from eventlake.state import StateStore

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = REPO / ".venv-airflow" / "bin" / "python"
SCRIPT = Path(__file__).with_name("airflow_script.py")
DATASETS = ("events", "users", "products")
GHOST = "u_ghost"

DATA_PIPELINE = [
    "ingest_data",
    "process_with_rust",
    "catalog_data",
    "run_dbt",
    "quality_checks",
    "update_dashboard",
]
DBT_TRANSFORM = ["dbt_seed", "dbt_run", "dbt_test", "dbt_docs_generate"]


def _airflow_python() -> Path:
    if not AIRFLOW_PYTHON.exists():
        pytest.fail(
            f"the Airflow environment is missing ({AIRFLOW_PYTHON}): create it with "
            "`make airflow-setup`",
            pytrace=False,
        )
    return AIRFLOW_PYTHON


@dataclass
class AirflowRun:
    result: dict[str, Any]
    log: str


def run_airflow(tmp: Path, home: Path, *args: str) -> AirflowRun:
    """`airflow_script.py ARGS` in the Airflow env, with its own AIRFLOW_HOME and our HOME."""
    # Nothing of the caller's Airflow or eventlake configuration leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EVENTLAKE_"))}
    env |= {
        "AIRFLOW_HOME": str(tmp / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "EVENTLAKE_HOME": str(home),
        "EVENTLAKE_APP_PYTHON": sys.executable,
    }
    out = tmp / f"{args[0]}.json"
    log = tmp / f"{args[0]}.log"
    with log.open("w") as sink:
        completed = subprocess.run(
            [str(_airflow_python()), str(SCRIPT), args[0], str(out), *args[1:]],
            env=env,
            cwd=tmp,  # the tasks must not depend on the working directory
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=1800,
            check=False,
        )
    text = log.read_text()
    if completed.returncode != 0 or not out.exists():
        pytest.fail(f"airflow_script.py {' '.join(args)} failed:\n{text[-6000:]}")
    return AirflowRun(json.loads(out.read_text()), text)


def test_dagbag_has_both_dags_with_the_task_order(tmp_path: Path) -> None:
    result = run_airflow(tmp_path, tmp_path / "home", "structure").result
    assert result["import_errors"] == {}
    dags = result["dags"]
    assert set(dags) == {"dag_data_pipeline", "dag_dbt_transform"}
    for dag_id, order in (
        ("dag_data_pipeline", DATA_PIPELINE),
        ("dag_dbt_transform", DBT_TRANSFORM),
    ):
        tasks = dags[dag_id]["tasks"]
        assert set(tasks) == set(order)
        for index, task_id in enumerate(order):
            assert tasks[task_id]["upstream"] == order[max(index - 1, 0) : index], task_id
            assert tasks[task_id]["downstream"] == order[index + 1 : index + 2], task_id
            # Every task runs in the app environment, not in Airflow's.
            assert tasks[task_id]["python"] == sys.executable
        assert dags[dag_id]["catchup"] is False
        assert dags[dag_id]["has_doc"]
        assert "eventlake" in dags[dag_id]["tags"]
    assert dags["dag_data_pipeline"]["schedule"] == "@hourly"
    assert dags["dag_dbt_transform"]["schedule"] == "None"  # by hand
    # Transient steps retry; gates (dbt's tests, the quality checks) fail at once.
    retries = {t: v["retries"] for d in dags.values() for t, v in d["tasks"].items()}
    assert {t for t, n in retries.items() if n == 0} == {"run_dbt", "quality_checks", "dbt_test"}
    assert {n for n in retries.values() if n} == {2}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    eventlake = Path(sys.executable).with_name("eventlake")
    subprocess.run(
        [str(eventlake), "generate", "--events", "2000", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


def land_sample(home: Path, sample: Path) -> None:
    for dataset in DATASETS:
        target = home / "landing" / dataset / f"{dataset}.ndjson"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((sample / f"{dataset}.ndjson").read_bytes())


def lake_rows(home: Path, table: str) -> int:
    return Lake(Settings(home=home)).table(table).scan().to_arrow().num_rows


def warehouse_rows(home: Path, relation: str) -> int:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        row = connection.execute(f"select count(*) from {relation}").fetchone()
    assert row is not None
    return int(row[0])


def last_run(home: Path, name: str) -> dict[str, Any]:
    state = StateStore(Settings(home=home).state_database_url)
    try:
        run = state.last_run(name)
    finally:
        state.close()
    assert run is not None, f"no {name} run recorded"
    return run


@pytest.fixture(scope="module")
def both_dags(tmp_path_factory: pytest.TempPathFactory, sample: Path) -> tuple[Path, AirflowRun]:
    """The sample dropped in the landing folder; dag_data_pipeline, then dag_dbt_transform."""
    tmp = tmp_path_factory.mktemp("dag-test")
    home = tmp / "home"
    land_sample(home, sample)
    run = run_airflow(tmp, home, "test", "dag_data_pipeline", "dag_dbt_transform")
    return home, run


def test_data_pipeline_lands_the_sample_in_the_lake_and_warehouse(
    both_dags: tuple[Path, AirflowRun], sample: Path
) -> None:
    home, run = both_dags
    pipeline = run.result["runs"]["dag_data_pipeline"]
    assert pipeline["state"] == "success", run.log[-6000:]
    assert {t: v["state"] for t, v in pipeline["tasks"].items()} == dict.fromkeys(
        DATA_PIPELINE, "success"
    )
    manifest = json.loads((sample / "manifest.json").read_text())
    landed = lake_rows(home, "events")
    assert landed == manifest["events"]["valid"]
    assert warehouse_rows(home, "marts.fact_events") == landed
    assert warehouse_rows(home, "marts.dim_products") == lake_rows(home, "products")
    # The landing folder was emptied into _done/.
    assert not list((home / "landing" / "events").iterdir())
    # Each task's summary is its XCom, as plain JSON.
    xcoms = pipeline["xcoms"]
    assert set(xcoms) == set(DATA_PIPELINE)
    assert xcoms["ingest_data"]["files"] == len(DATASETS)
    assert xcoms["ingest_data"]["received"] == manifest["events"]["records"] + sum(
        manifest[d]["records"] for d in ("users", "products")
    )
    assert xcoms["catalog_data"]["tables"]["events"]["rows"] == landed
    assert Path(xcoms["update_dashboard"]["marker"]).is_file()
    # The dbt build and the gate are recorded as runs, as the CLI's are: the dashboard's
    # pipeline health and /api/v1/metrics show them.
    transform, quality = last_run(home, "transform"), last_run(home, "quality")
    assert transform["status"] == quality["status"] == "succeeded"
    assert transform["detail"]["result"] == xcoms["run_dbt"]
    assert transform["detail"]["result"]["tests_failed"] == 0
    assert quality["detail"]["result"]["success"] is True


def test_dbt_transform_rebuilds_the_warehouse(both_dags: tuple[Path, AirflowRun]) -> None:
    home, run = both_dags
    transform = run.result["runs"]["dag_dbt_transform"]
    assert transform["state"] == "success", run.log[-6000:]
    assert {t: v["state"] for t, v in transform["tasks"].items()} == dict.fromkeys(
        DBT_TRANSFORM, "success"
    )
    assert set(transform["xcoms"]) == set(DBT_TRANSFORM)
    assert warehouse_rows(home, "marts.fact_events") == lake_rows(home, "events")


def test_a_failing_dbt_test_fails_the_run_without_retrying(tmp_path: Path, sample: Path) -> None:
    """Events of a user with no profile: dbt's not_null test on fact_events.user_sk fails
    inside run_dbt; the run fails there, at once, and nothing after it runs."""
    home = tmp_path / "home"
    land_sample(home, sample)
    ghost_events = [
        {
            "event_id": str(uuid.uuid4()),
            "user_id": GHOST,
            "event_type": "page_view",
            "event_timestamp": f"2026-11-0{day}T10:00:00Z",
        }
        for day in (2, 3, 4)
    ]
    ghost = home / "landing" / "events" / "ghost.ndjson"
    ghost.write_text("".join(json.dumps(event) + "\n" for event in ghost_events))

    run = run_airflow(tmp_path, home, "test", "dag_data_pipeline")
    pipeline = run.result["runs"]["dag_data_pipeline"]
    assert pipeline["state"] == "failed"
    states = {t: v["state"] for t, v in pipeline["tasks"].items()}
    assert states == {
        "ingest_data": "success",
        "process_with_rust": "success",
        "catalog_data": "success",
        "run_dbt": "failed",
        "quality_checks": "upstream_failed",
        "update_dashboard": "upstream_failed",
    }
    assert pipeline["tasks"]["run_dbt"]["try_number"] == 1  # a gate is not retried
    assert "not_null_fact_events_user_sk" in run.log
    failed = last_run(home, "transform")
    assert failed["status"] == "failed"
    assert "not_null_fact_events_user_sk" in failed["error"]
    # The ghost's events are in the lake, waiting for their user's profile.
    assert lake_rows(home, "events") == json.loads((sample / "manifest.json").read_text())[
        "events"
    ]["valid"] + len(ghost_events)
