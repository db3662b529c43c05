"""The warehouses that the dashboard and quality tests build by hand (to test without dbt) have
the columns and types of the tables dbt builds: a model change the fixtures miss fails here,
instead of leaving those tests green against a warehouse that no longer exists."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from eventlake.config import Settings
from eventlake.contracts import load_contract
from eventlake.lake import Lake
from eventlake.pipeline.process_files import process_file
from eventlake.sample_data import SampleConfig, write_sample
from eventlake.warehouse.dbt_runner import run_dbt
from tests.dashboard.conftest import build_marts
from tests.quality.conftest import build_warehouse

pytestmark = pytest.mark.slow

Columns = dict[str, list[tuple[str, str]]]  # "schema.table" -> [(column, type)] in order


def columns(path: Path) -> Columns:
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


@pytest.fixture(scope="module")
def dbt_columns(tmp_path_factory: pytest.TempPathFactory) -> Columns:
    """What dbt builds from a small lake (users with renames, products, events)."""
    home = tmp_path_factory.mktemp("dbt-home")
    settings = Settings(home=home)
    samples = home / "samples"
    write_sample(
        samples,
        SampleConfig(events=200, users=10, products=5, renamed_users=2, days=3, seed=3),
    )
    for dataset in ("users", "products", "events"):
        path = samples / f"{dataset}.ndjson"
        process_file(path, load_contract(dataset), lake=Lake(settings), job_id=dataset)
    result = run_dbt(settings, ["build"])
    assert result.error is None, result.error
    built = columns(settings.duckdb_path)
    assert {"marts.dim_users", "marts.dim_products", "marts.fact_events"} <= built.keys()
    return built


@pytest.mark.parametrize(
    "build",
    [build_marts, build_warehouse],
    ids=["dashboard (tests/dashboard/conftest.py)", "quality (tests/quality/conftest.py)"],
)
def test_a_hand_built_warehouse_has_dbts_columns_and_types(
    build: object, dbt_columns: Columns, tmp_path: Path
) -> None:
    path = tmp_path / "warehouse.duckdb"
    build(path)  # type: ignore[operator]
    hand_built = columns(path)
    assert hand_built, "the fixture built no staging or mart table"
    for table, table_columns in hand_built.items():
        assert table in dbt_columns, f"{table}: dbt builds no such table"
        assert table_columns == dbt_columns[table], table
