"""`eventlake transform` end to end: the sample through the lake into dbt's star schema.

One story, run once for the module (each dbt build costs ~15-30 s), checked by the tests:

A. the sample's users, products and events land; the first build passes;
B. the user renames land; the rebuild gives each renamed user a second version and re-keys
   the events after the rename; no event is staged again;
C. more events land, three of them from a user with no profile yet; `eventlake transform`
   fails on dbt's not_null test and exits 1, and the failure is recorded;
D. that user's profile lands; the rebuild passes and the waiting events get their user.

The warehouses that the dashboard and quality tests build by hand (to test without dbt) are
checked here against the story's: a model change the fixtures miss fails here, instead of
leaving those tests green against a warehouse that no longer exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from eventlake.cli import app
from eventlake.config import Settings, get_settings
from eventlake.contracts import load_contract
from eventlake.lake import Lake
from eventlake.pipeline.process_files import process_file
from eventlake.pipeline.runs import record_run
from eventlake.sample_data import SampleConfig, write_sample
from eventlake.state import StateStore
from eventlake.warehouse import dbt_runner
from eventlake.warehouse.dbt_runner import transform_pipeline
from eventlake.warehouse.lake_views import current_files
from tests.dashboard.conftest import build_marts
from tests.quality.conftest import build_warehouse

pytestmark = pytest.mark.slow

GHOST = "u_ghost"
LATE_PRODUCT = "p_late"


@dataclass
class Step:
    summary: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    lake_files: set[str]  # the events table's data files after the step's landing
    staging_sql: str  # stg_events as dbt compiled it in this step's build


def _quoted_paths(sql: str) -> set[str]:
    return set(re.findall(r"'([^']+\.parquet)'", sql))


@dataclass
class Story:
    settings: Settings
    samples: Path
    steps: dict[str, Step]
    landed_event_ids: set[str]
    new_events: int
    cli_exit_code: int
    cli_output: str


def _land(settings: Settings, path: Path, dataset: str) -> int:
    report = process_file(
        path, load_contract(dataset), lake=Lake(settings), job_id=path.stem, source="tests"
    )
    return report.landed


def _read_tables(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        tables = {}
        for name in ("marts.dim_users", "marts.fact_events", "marts.dim_products"):
            cursor = connection.execute(f"select * from {name}")  # noqa: S608 — identifiers are ours; values are bound parameters
            columns = [d[0] for d in cursor.description]
            tables[name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return tables


def _step(settings: Settings, summary: dict[str, Any]) -> Step:
    compiled = settings.home / "reports" / "dbt" / "compiled" / "eventlake" / "models"
    files = current_files(Lake(settings).table("events"))
    return Step(
        summary=summary,
        tables=_read_tables(settings),
        lake_files={path.removeprefix("file://") for paths in files.values() for path in paths},
        staging_sql=(compiled / "staging" / "stg_events.sql").read_text(),
    )


def _lake_event_ids(settings: Settings) -> set[str]:
    table = Lake(settings).table("events").scan(selected_fields=("event_id",)).to_arrow()
    return set(table.column("event_id").to_pylist())


def _write_ndjson(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _transform_recorded(settings: Settings) -> dict[str, Any]:
    state = StateStore(settings.state_database_url)
    try:
        _, summary = record_run(settings, state, "transform", transform_pipeline)
    finally:
        state.close()
    return summary


@contextmanager
def _build_only() -> Iterator[None]:
    """`transform` without `dbt docs generate`: only the last build's docs site is read
    (test_docs_are_generated_with_the_marts_columns), so the builds before it skip the docs and
    the seconds they cost. A change to `transform`'s signature fails here, not silently."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(dbt_runner.transform.__kwdefaults__, "steps", (("build",),))
        yield


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    home = tmp_path_factory.mktemp("warehouse-home")
    settings = Settings(home=home)
    samples = home / "samples"
    config = SampleConfig(events=3_000, users=40, products=15, renamed_users=5, days=7, seed=5)
    write_sample(samples, config)
    steps: dict[str, Step] = {}

    # A
    for dataset in ("users", "products", "events"):
        _land(settings, samples / f"{dataset}.ndjson", dataset)
    with _build_only():
        steps["A"] = _step(settings, _transform_recorded(settings))

    # B
    _land(settings, samples / "user_renames.ndjson", "users")
    with _build_only():
        steps["B"] = _step(settings, _transform_recorded(settings))

    # C: a second sample (other seed, other ids) and three events of a user without a profile
    more = home / "more"
    write_sample(more, SampleConfig(events=1_000, users=40, products=15, days=7, seed=6))
    new_events = _land(settings, more / "events.ndjson", "events")
    ghost_events = [
        {
            "event_id": f"ghost-{i}",
            "user_id": GHOST,
            "event_type": "page_view",
            "event_timestamp": f"2026-11-0{i + 2}T10:00:00Z",
            "product_id": LATE_PRODUCT if i == 0 else None,
        }
        for i in range(3)
    ]
    new_events += _land(settings, _write_ndjson(home / "ghost.ndjson", ghost_events), "events")
    with pytest.MonkeyPatch.context() as patch, _build_only():
        patch.setenv("EVENTLAKE_HOME", str(home))
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["transform"])
        get_settings.cache_clear()
    steps["C"] = _step(settings, {})

    # D: the profile arrives
    profile = {
        "user_id": GHOST,
        "user_name": "Late Profile",
        "created_at": "2026-10-01T00:00:00Z",
        "updated_at": "2026-10-01T00:00:00Z",
    }
    _land(settings, _write_ndjson(home / "ghost_user.ndjson", [profile]), "users")
    product = {"product_id": LATE_PRODUCT, "name": "Late Lamp", "category": "home", "price": 5}
    _land(settings, _write_ndjson(home / "late_product.ndjson", [product]), "products")
    steps["D"] = _step(settings, _transform_recorded(settings))

    return Story(
        settings=settings,
        samples=samples,
        steps=steps,
        landed_event_ids=_lake_event_ids(settings),
        new_events=new_events,
        cli_exit_code=result.exit_code,
        cli_output=result.output,
    )


def _renames(samples: Path) -> dict[str, dict[str, Any]]:
    text = (samples / "user_renames.ndjson").read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    return {row["user_id"]: row for row in rows}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def test_the_first_build_passes_and_every_landed_event_is_one_fact(story: Story) -> None:
    first = story.steps["A"]
    assert first.summary["ok"] is True
    assert first.summary["models_built"] == 10
    assert first.summary["snapshots_built"] == 1
    assert first.summary["seeds_loaded"] == 1
    assert first.summary["tests_failed"] == 0
    assert first.summary["tests_passed"] >= 45
    facts = first.tables["marts.fact_events"]
    assert len(facts) == len({f["event_id"] for f in facts}) > 2_500
    users = first.tables["marts.dim_users"]
    assert len(users) == len({u["user_id"] for u in users}) == 40  # one version each
    assert all(u["is_current"] and u["valid_to"] is None for u in users)


def test_the_final_facts_reconcile_with_the_lake(story: Story) -> None:
    facts = story.steps["D"].tables["marts.fact_events"]
    assert {f["event_id"] for f in facts} == story.landed_event_ids
    assert len(facts) == len(story.landed_event_ids)


def test_a_renamed_user_has_two_versions_with_adjoining_validity(story: Story) -> None:
    renames = _renames(story.samples)
    assert len(renames) == 5
    versions: dict[str, list[dict[str, Any]]] = {}
    for row in story.steps["B"].tables["marts.dim_users"]:
        versions.setdefault(row["user_id"], []).append(row)
    for user_id, rename in renames.items():
        old, new = sorted(versions[user_id], key=lambda v: v["valid_from"])
        renamed_at = _utc(rename["updated_at"])
        assert new["user_name"] == rename["user_name"] != old["user_name"]
        assert old["valid_to"] == new["valid_from"] == renamed_at
        assert (old["is_current"], new["is_current"]) == (False, True)
        assert new["valid_to"] is None
        assert (old["version_number"], new["version_number"]) == (1, 2)
    others = [v for uid, vs in versions.items() if uid not in renames for v in vs]
    assert len(others) == 35


def test_each_event_points_at_the_version_valid_at_its_time(story: Story) -> None:
    renames = _renames(story.samples)
    build = story.steps["B"]
    names = {u["user_sk"]: u["user_name"] for u in build.tables["marts.dim_users"]}
    first_names = {
        u["user_id"]: u["user_name"]
        for u in story.steps["A"].tables["marts.dim_users"]
        if u["user_id"] in renames
    }
    checked = {"before": 0, "after": 0}
    for fact in build.tables["marts.fact_events"]:
        rename = renames.get(fact["user_id"])
        if rename is None:
            continue
        after = fact["event_timestamp"] >= _utc(rename["updated_at"])
        expected = rename["user_name"] if after else first_names[fact["user_id"]]
        assert names[fact["user_sk"]] == expected, fact
        checked["after" if after else "before"] += 1
    # the sample is big enough that both sides of a rename are exercised
    assert checked["before"] > 0
    assert checked["after"] > 0


def test_surrogate_keys_are_the_same_on_every_run(story: Story) -> None:
    first, later = story.steps["A"], story.steps["D"]
    first_users = {
        (u["user_id"], u["valid_from"]): u["user_sk"] for u in first.tables["marts.dim_users"]
    }
    later_users = {
        (u["user_id"], u["valid_from"]): u["user_sk"] for u in later.tables["marts.dim_users"]
    }
    assert first_users.items() <= later_users.items()
    first_events = {f["event_id"]: f["event_sk"] for f in first.tables["marts.fact_events"]}
    later_events = {f["event_id"]: f["event_sk"] for f in later.tables["marts.fact_events"]}
    assert first_events.items() <= later_events.items()
    assert len(set(later_events.values())) == len(later_events)


def test_a_rerun_reads_only_the_lake_files_committed_since(story: Story) -> None:
    first, users_only, more_events = story.steps["A"], story.steps["B"], story.steps["C"]
    # B: only users landed, so the incremental staging read no event file at all ...
    assert _quoted_paths(users_only.staging_sql) == set()
    assert "where false" in users_only.staging_sql
    # ... C: it read exactly the files the new events landed in.
    new_files = more_events.lake_files - users_only.lake_files
    assert new_files
    assert _quoted_paths(more_events.staging_sql) == new_files
    # and staged exactly the new events, once
    staged = [f["event_id"] for f in more_events.tables["marts.fact_events"]]
    assert len(staged) == len(first.tables["marts.fact_events"]) + story.new_events
    assert story.new_events > 900


def test_a_failing_dbt_test_fails_transform_and_is_recorded(story: Story) -> None:
    assert story.cli_exit_code == 1, story.cli_output
    assert "not_null_fact_events_user_sk" in story.cli_output
    state = StateStore(story.settings.state_database_url)
    try:
        runs = [r for r in state.recent_jobs(kind="run", limit=10) if r["name"] == "transform"]
    finally:
        state.close()
    statuses = [r["status"] for r in sorted(runs, key=lambda r: r["created_at"])]
    assert statuses == ["succeeded", "succeeded", "failed", "succeeded"]
    failed = next(r for r in runs if r["status"] == "failed")
    problems = {p["name"] for p in failed["detail"]["result"]["problems"]}
    assert {"not_null_fact_events_user_sk", "not_null_fact_events_product_sk"} <= problems
    assert failed["detail"]["result"]["tests_failed"] >= 1
    assert "not_null_fact_events_user_sk" in failed["error"]


def test_events_waiting_for_their_user_get_it_when_the_profile_lands(story: Story) -> None:
    final = story.steps["D"]
    assert final.summary["ok"] is True
    ghost_versions = [u for u in final.tables["marts.dim_users"] if u["user_id"] == GHOST]
    assert len(ghost_versions) == 1
    ghost_facts = [f for f in final.tables["marts.fact_events"] if f["user_id"] == GHOST]
    assert len(ghost_facts) == 3
    assert {f["user_sk"] for f in ghost_facts} == {ghost_versions[0]["user_sk"]}
    # While it waited, the facts were there with no user (what dbt's test caught in C).
    waiting = [f for f in story.steps["C"].tables["marts.fact_events"] if f["user_id"] == GHOST]
    assert [f["user_sk"] for f in waiting] == [None, None, None]


def test_an_event_waiting_for_its_product_gets_it_when_the_product_lands(story: Story) -> None:
    before = {f["event_id"]: f for f in story.steps["C"].tables["marts.fact_events"]}
    after = {f["event_id"]: f for f in story.steps["D"].tables["marts.fact_events"]}
    assert before["ghost-0"]["product_sk"] is None
    (late,) = [
        p for p in story.steps["D"].tables["marts.dim_products"] if p["product_id"] == LATE_PRODUCT
    ]
    assert after["ghost-0"]["product_sk"] == late["product_sk"]


def test_metrics_show_the_last_transform(story: Story) -> None:
    state = StateStore(story.settings.state_database_url)
    try:
        last = state.metrics()["last_runs"]["transform"]
    finally:
        state.close()
    assert last["status"] == "succeeded"
    assert last["result"]["models_built"] == 10
    assert last["result"]["tests_failed"] == 0


def test_docs_are_generated_with_the_marts_columns(story: Story) -> None:
    docs = story.settings.home / "reports" / "dbt"
    assert (docs / "index.html").stat().st_size > 10_000
    catalog = json.loads((docs / "catalog.json").read_text())
    fact = catalog["nodes"]["model.eventlake.fact_events"]
    assert {"event_sk", "user_sk", "product_sk", "event_timestamp"} <= set(fact["columns"])


Columns = dict[str, list[tuple[str, str]]]  # "schema.table" -> [(column, type)] in order


def _columns(path: Path) -> Columns:
    """The staging and mart tables (and views) of a DuckDB warehouse, with their columns."""
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            """select table_schema || '.' || table_name, column_name, data_type
            from information_schema.columns where table_schema in ('staging', 'marts')
            order by table_schema, table_name, ordinal_position"""
        ).fetchall()
    tables: Columns = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


@pytest.mark.parametrize(
    "build",
    [build_marts, build_warehouse],
    ids=["dashboard (tests/dashboard/conftest.py)", "quality (tests/quality/conftest.py)"],
)
def test_a_hand_built_warehouse_has_dbts_columns_and_types(
    build: object, story: Story, tmp_path: Path
) -> None:
    dbt_columns = _columns(story.settings.duckdb_path)
    assert {"marts.dim_users", "marts.dim_products", "marts.fact_events"} <= dbt_columns.keys()
    path = tmp_path / "warehouse.duckdb"
    build(path)  # type: ignore[operator]
    hand_built = _columns(path)
    assert hand_built, "the fixture built no staging or mart table"
    for table, table_columns in hand_built.items():
        assert table in dbt_columns, f"{table}: dbt builds no such table"
        assert table_columns == dbt_columns[table], table
