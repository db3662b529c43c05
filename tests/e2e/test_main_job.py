"""`eventlake run` (`make run`) end to end: API and consumer as real processes, traffic over
HTTP, the data pipeline's tasks after each of two loads, and the summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from eventlake.config import Settings
from eventlake.lake import Lake
from eventlake.state import StateStore

pytestmark = pytest.mark.slow


def test_make_run_sends_traffic_over_http_and_builds_the_warehouse(tmp_path: Path) -> None:
    env = {**os.environ, "EVENTLAKE_HOME": str(tmp_path), "COLUMNS": "200"}
    env.pop("EVENTLAKE_API_KEYS", None)
    result = subprocess.run(
        [sys.executable, "-m", "eventlake.cli", "run", "--events", "3000", "--seed", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Every generated event is accounted for, exactly once" in out
    assert "sent over HTTP" in out
    assert "quality gate passed" in out

    settings = Settings(home=tmp_path)
    # Both loads' dbt builds and gates are recorded runs (what the dashboard shows).
    state = StateStore(settings.state_database_url)
    try:
        transform, quality = state.last_run("transform"), state.last_run("quality")
        runs = state.recent_jobs(kind="run")
    finally:
        state.close()
    assert transform is not None
    assert quality is not None
    assert transform["status"] == quality["status"] == "succeeded"
    assert transform["detail"]["result"]["tests_failed"] == 0
    assert transform["detail"]["result"]["tests_passed"] > 40
    assert quality["detail"]["result"]["success"] is True
    # Each load's data pipeline is a recorded run too, as a triggered one is, with each
    # step's result under its name.
    assert sorted(run["name"] for run in runs) == (
        ["pipeline"] * 2 + ["quality"] * 2 + ["transform"] * 2
    )
    pipelines = [run for run in runs if run["name"] == "pipeline"]
    assert {(run["status"], run["source"]) for run in pipelines} == {("succeeded", "make-run")}
    assert pipelines[0]["detail"]["result"]["run_dbt"] == transform["detail"]["result"]
    landed = Lake(settings).table("events").scan(selected_fields=("event_id",)).to_arrow()
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        facts = warehouse.execute("select count(*) from marts.fact_events").fetchall()[0][0]
        renamed = warehouse.execute(
            "select count(*) from (select user_id from marts.dim_users "
            "group by user_id having count(*) = 2)"
        ).fetchall()[0][0]
    assert facts == landed.num_rows == len(set(landed.column("event_id").to_pylist()))
    assert renamed == 20  # the sample's user renames, sent in the second load
    # The traffic went through the API and the consumer: every job is committed.
    api_log = (tmp_path / "logs" / "api.log").read_text()
    assert "POST /api/v1/ingest" in api_log
    assert (tmp_path / "reports" / "dashboard" / "refreshed.json").exists()
