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
from eventlake.warehouse.dbt_runner import DBT_PROJECT_DIR
from tests.airflow.airflow_script import STORY_MARK

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
LAKE_MAINTENANCE = ["compact_lake"]


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


GHOST_EVENTS = [
    {
        "event_id": str(uuid.uuid4()),
        "user_id": GHOST,
        "event_type": "page_view",
        "event_timestamp": f"2026-11-0{day}T10:00:00Z",
    }
    for day in (2, 3, 4)
]


@dataclass
class AirflowSession:
    """What the module's one Airflow process found and ran: the DagBag's structure, and each
    story's home with its DAG runs (and its own part of the log)."""

    structure: dict[str, Any]
    healthy: tuple[Path, AirflowRun]
    ghost: tuple[Path, AirflowRun]


@pytest.fixture(scope="module")
def airflow_session(tmp_path_factory: pytest.TempPathFactory, sample: Path) -> AirflowSession:
    """One Airflow process for the module, so its start-up and database are paid once: the
    DagBag's structure, then two stories, each in a home of its own:

    - healthy: the sample dropped in the landing folder; dag_data_pipeline, then
      dag_dbt_transform, then dag_lake_maintenance;
    - ghost: the same, plus events of a user with no profile; dag_data_pipeline.
    """
    tmp = tmp_path_factory.mktemp("dag-test")
    healthy, ghost = tmp / "home", tmp / "ghost-home"
    land_sample(healthy, sample)
    land_sample(ghost, sample)
    (ghost / "landing" / "events" / "ghost.ndjson").write_text(
        "".join(json.dumps(event) + "\n" for event in GHOST_EVENTS)
    )
    plan = tmp / "plan.json"
    plan.write_text(
        json.dumps(
            [
                {
                    "home": str(healthy),
                    "dags": ["dag_data_pipeline", "dag_dbt_transform", "dag_lake_maintenance"],
                },
                {"home": str(ghost), "dags": ["dag_data_pipeline"]},
            ]
        )
    )
    run = run_airflow(tmp, healthy, "session", str(plan))
    _before, healthy_log, ghost_log = run.log.split(STORY_MARK)
    healthy_run, ghost_run = run.result["stories"]
    return AirflowSession(
        structure=run.result["structure"],
        healthy=(healthy, AirflowRun(healthy_run, healthy_log)),
        ghost=(ghost, AirflowRun(ghost_run, ghost_log)),
    )


def test_dagbag_has_the_dags_with_the_task_order(airflow_session: AirflowSession) -> None:
    result = airflow_session.structure
    assert result["import_errors"] == {}
    dags = result["dags"]
    assert set(dags) == {"dag_data_pipeline", "dag_dbt_transform", "dag_lake_maintenance"}
    for dag_id, order in (
        ("dag_data_pipeline", DATA_PIPELINE),
        ("dag_dbt_transform", DBT_TRANSFORM),
        ("dag_lake_maintenance", LAKE_MAINTENANCE),
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
    assert dags["dag_lake_maintenance"]["schedule"] == "30 * * * *"  # between the pipeline's
    # Transient steps retry; gates (dbt's tests, the quality checks) fail at once.
    retries = {t: v["retries"] for d in dags.values() for t, v in d["tasks"].items()}
    assert {t for t, n in retries.items() if n == 0} == {"run_dbt", "quality_checks", "dbt_test"}
    assert {n for n in retries.values() if n} == {2}


def lake_rows(home: Path, table: str) -> int:
    return Lake(Settings(home=home)).table(table).scan().to_arrow().num_rows


def warehouse_rows(home: Path, relation: str) -> int:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        query = f"select count(*) from {relation}"  # noqa: S608 — the test's own relation names
        row = connection.execute(query).fetchone()
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
def both_dags(airflow_session: AirflowSession) -> tuple[Path, AirflowRun]:
    """The sample dropped in the landing folder; dag_data_pipeline, then dag_dbt_transform."""
    return airflow_session.healthy


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
    # dbt_run: the users snapshot and every model, in one dbt process; the seeds and the
    # tests are the tasks either side of it.
    built = transform["xcoms"]["dbt_run"]
    assert len(built["commands"]) == 1
    assert set(built["counts"]) == {"model", "snapshot"}
    assert built["snapshots_built"] == 1
    assert built["models_built"] == len(list((DBT_PROJECT_DIR / "models").rglob("*.sql")))
    assert warehouse_rows(home, "marts.fact_events") == lake_rows(home, "events")


def test_lake_maintenance_compacts_every_table_of_the_lake(
    both_dags: tuple[Path, AirflowRun],
) -> None:
    home, run = both_dags
    maintenance = run.result["runs"]["dag_lake_maintenance"]
    assert maintenance["state"] == "success", run.log[-6000:]
    tables = maintenance["xcoms"]["compact_lake"]["tables"]
    assert set(tables) == set(Lake(Settings(home=home)).table_names())
    assert {"events", "events_rejected"} <= set(tables)


def test_a_failing_dbt_test_fails_the_run_without_retrying(
    airflow_session: AirflowSession, sample: Path
) -> None:
    """Events of a user with no profile: dbt's not_null test on fact_events.user_sk fails
    inside run_dbt; the run fails there, at once, and nothing after it runs."""
    home, run = airflow_session.ghost
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
    ]["valid"] + len(GHOST_EVENTS)
