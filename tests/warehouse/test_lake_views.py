"""DuckDB's view of the lake (the dbt `local` target's sources): exactly the current snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import data_processor_rs
import duckdb
import pytest
import yaml

from eventlake.config import Settings
from eventlake.contracts import load_contract, load_contract_spec
from eventlake.lake import Lake, SequenceRange
from eventlake.lake.maintenance import compact
from eventlake.pipeline.runs import RunFailedError, record_run
from eventlake.state import StateStore
from eventlake.warehouse.dbt_runner import (
    DBT_PROJECT_DIR,
    dbt_environment,
    settings_for_plugin,
    transform_pipeline,
)
from eventlake.warehouse.lake_views import current_files, refresh_lake_views
from tests.lake.conftest import RECEIVED_AT, process, sample_body


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "home").mkdir()
    return Settings(home=tmp_path / "home")


@pytest.fixture
def events_contract() -> data_processor_rs.Contract:
    return load_contract("events")


def _commit_batches(lake: Lake, contract: data_processor_rs.Contract, batches: int) -> None:
    lake.ensure_dataset(contract)
    lake.ensure_dead_letter()
    for sequence in range(batches):
        lake.commit_processed(
            process(sample_body(400, seed=200 + sequence, days=2), contract, f"job-{sequence}"),
            ranges={"events/0": SequenceRange(sequence, sequence)},
            job_id=f"job-{sequence}",
            source="tests",
            received_at=RECEIVED_AT,
        )


def _views(settings: Settings) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(settings.home / "w.duckdb"))
    refresh_lake_views(connection, settings)
    return connection


def test_a_fresh_lake_reads_as_empty_typed_tables(settings: Settings) -> None:
    connection = _views(settings)
    for table in ("events", "users", "products", "events_rejected"):
        assert connection.execute(f"select count(*) from lake.{table}").fetchone() == (0,)  # noqa: S608 — identifiers are ours; values are bound parameters
    types = dict(connection.execute("describe lake.events").fetchall()[i][:2] for i in range(12))
    assert types["event_timestamp"] == "TIMESTAMP WITH TIME ZONE"
    assert types["event_value"] == "DOUBLE"
    assert types["_lake_sequence"] == "BIGINT"


def test_views_read_each_commit_once_with_its_sequence_number(
    settings: Settings, events_contract: data_processor_rs.Contract
) -> None:
    lake = Lake(settings)
    _commit_batches(lake, events_contract, 3)
    connection = _views(settings)
    in_lake = lake.table("events").scan().to_arrow().num_rows
    rows, distinct, sequences = connection.execute(
        "select count(*), count(distinct event_id), count(distinct _lake_sequence) from lake.events"
    ).fetchone()
    assert rows == distinct == in_lake
    assert sequences == 3
    listed = connection.execute("select file_path from lake.events__files").fetchall()
    files = current_files(lake.table("events"))
    assert {path for (path,) in listed} == {
        p.removeprefix("file://") for paths in files.values() for p in paths
    }


def test_after_compaction_the_replaced_files_are_not_read(
    settings: Settings, events_contract: data_processor_rs.Contract
) -> None:
    """The old files stay on disk until they expire; a glob would read every row twice."""
    lake = Lake(settings)
    _commit_batches(lake, events_contract, 4)
    before = lake.table("events").scan().to_arrow().num_rows
    on_disk_before = set((settings.home / "lake").rglob("*.parquet"))
    assert compact(lake, "events").files_removed > 0
    assert set((settings.home / "lake").rglob("*.parquet")) > on_disk_before  # nothing deleted
    connection = _views(settings)
    rows, distinct = connection.execute(
        "select count(*), count(distinct event_id) from lake.events"
    ).fetchone()
    assert rows == distinct == before


def test_dbt_gets_the_settings_it_was_given_not_this_process_environment(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTLAKE_HOME", "/somewhere/else")
    env = dbt_environment(settings)
    handed = settings_for_plugin(env)
    assert handed.home == settings.home
    assert handed.duckdb_path == settings.duckdb_path
    assert env["EVENTLAKE_HOME"] == str(settings.home.resolve())
    assert env["DBT_TARGET_PATH"] == str(settings.home.resolve() / "reports" / "dbt")
    assert "api_keys" not in json.loads(env["EVENTLAKE_SETTINGS_JSON"])


def test_the_dbt_tests_accept_exactly_the_contracts_event_types() -> None:
    """dbt's accepted_values and the seed must follow resources/contracts/events.yaml."""
    contract = load_contract_spec("events")
    allowed = next(f.enum for f in contract.fields if f.name == "event_type")
    project = DBT_PROJECT_DIR
    seeded = (project / "seeds" / "event_types.csv").read_text().splitlines()[1:]
    assert sorted(line.split(",")[0] for line in seeded) == sorted(allowed or [])
    lists = []
    for path in project.glob("models/**/_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            for column in model.get("columns", []):
                for test in column.get("data_tests", []):
                    if (
                        isinstance(test, dict)
                        and "accepted_values" in test
                        and column["name"] == "event_type"
                    ):
                        lists.append(test["accepted_values"]["arguments"]["values"])
    assert len(lists) == 2  # stg_events and fact_events
    assert all(sorted(values) == sorted(allowed or []) for values in lists)


@pytest.mark.slow
def test_a_prod_target_without_snowflake_credentials_fails_clearly(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    prod = settings.model_copy(
        update={"warehouse": settings.warehouse.model_copy(update={"target": "prod"})}
    )
    state = StateStore(prod.state_database_url)
    try:
        with pytest.raises(RunFailedError) as failure:
            record_run(prod, state, "transform", transform_pipeline)
        run = state.recent_jobs(kind="run", limit=1)[0]
    finally:
        state.close()
    assert "SNOWFLAKE_ACCOUNT" in str(failure.value)
    assert "dbt build failed" in str(failure.value)
    assert run["status"] == "failed"
    assert "SNOWFLAKE_ACCOUNT" in run["error"]
    assert failure.value.result["models_built"] == 0
