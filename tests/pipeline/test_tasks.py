"""The pipeline's task functions: the landing folder through the API's path into the lake."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from eventlake.config import Settings, WarehouseSettings
from eventlake.lake import Lake
from eventlake.pipeline.runs import run_task
from eventlake.pipeline.tasks import (
    catalog_data,
    dashboard_marker,
    ingest_data,
    landing_dir,
    process_with_rust,
    update_dashboard,
)
from eventlake.state import StateStore
from tests.aws import AwsEnv, aws_settings


def event(i: int, **changes: object) -> dict[str, object]:
    return {
        "event_id": f"e{i}",
        "user_id": f"u{i % 3}",
        "event_type": "page_view",
        "event_timestamp": "2026-11-02T10:00:00Z",
    } | changes


def ndjson(rows: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    return Settings(home=home)


def drop(settings: Settings, relative: str, body: bytes) -> Path:
    path = landing_dir(settings) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def landed_ids(settings: Settings) -> list[str]:
    table = Lake(settings).table("events").scan(selected_fields=("event_id",)).to_arrow()
    return sorted(table.column("event_id").to_pylist())


def test_files_of_every_format_land_once_and_move_to_done(settings: Settings) -> None:
    drop(settings, "events/a.ndjson", ndjson([event(1), event(2)]))
    drop(settings, "events/b.json.gz", gzip.compress(json.dumps([event(3)]).encode()))
    drop(
        settings,
        "events_c.csv",  # no folder: the dataset comes from the name
        b"event_id,user_id,event_type,event_timestamp\ne4,u1,login,2026-11-02T11:00:00Z\n",
    )
    summary = ingest_data(settings)
    assert (summary["files"], summary["accepted"], summary["rejected"]) == (3, 4, 0)
    assert summary["refused"] == []
    assert len(summary["jobs"]) == 3
    assert list(landing_dir(settings).glob("events/*")) == []  # all moved to _done
    assert len(list((landing_dir(settings) / "_done").rglob("*.*"))) == 3
    process_with_rust(settings)
    assert landed_ids(settings) == ["e1", "e2", "e3", "e4"]

    # The same files dropped again are recognised by their content: nothing lands twice.
    drop(settings, "events/a.ndjson", ndjson([event(1), event(2)]))
    again = ingest_data(settings)
    assert again["accepted"] == 2
    process_with_rust(settings)
    assert landed_ids(settings) == ["e1", "e2", "e3", "e4"]


def test_a_file_over_the_body_limit_goes_in_pieces_csv_with_its_header(
    settings: Settings,
) -> None:
    small = settings.model_copy(
        update={"api": settings.api.model_copy(update={"max_body_bytes": 300})}
    )
    rows = "".join(f"e{i},u1,login,2026-11-02T11:00:00Z\n" for i in range(40))
    drop(small, "events/big.csv", b"event_id,user_id,event_type,event_timestamp\n" + rows.encode())
    drop(small, "events/big.ndjson", ndjson([event(100 + i) for i in range(20)]))
    summary = ingest_data(small)
    assert summary["accepted"] == 60
    assert summary["requests"] > 4
    process_with_rust(small)
    assert len(landed_ids(small)) == 60


def test_bad_files_are_kept_with_their_reason_never_dropped(settings: Settings) -> None:
    tiny = settings.model_copy(
        update={"api": settings.api.model_copy(update={"max_body_bytes": 200})}
    )
    drop(tiny, "events/notes.txt", b"hello")
    drop(tiny, "nobody/x.ndjson", ndjson([event(1)]))
    drop(tiny, "events/broken.ndjson.gz", b"not gzip at all")
    drop(tiny, "events/huge.json", json.dumps([event(i) for i in range(20)]).encode())
    drop(tiny, "events/all_bad.ndjson", b'{"event_id": "x"}\n{not json\n')
    summary = ingest_data(tiny)
    reasons = {item["file"]: item["reason"] for item in summary["refused"]}
    assert set(reasons) == {
        "events/notes.txt",
        "nobody/x.ndjson",
        "events/broken.ndjson.gz",
        "events/huge.json",
        "events/all_bad.ndjson",
    }
    assert "supported format" in reasons["events/notes.txt"]
    assert "unknown dataset 'nobody'" in reasons["nobody/x.ndjson"]
    assert "cannot be split" in reasons["events/huge.json"]
    assert "no valid record" in reasons["events/all_bad.ndjson"]
    # ... and its records are in the dead-letter table with their own reasons
    dead = Lake(tiny).table("events_rejected").scan().to_arrow().to_pylist()
    assert sorted(row["reason"] for row in dead) == ["invalid_json", "missing"]
    rejected = landing_dir(tiny) / "_rejected"
    kept = sorted(p.name for p in rejected.rglob("*") if p.is_file())
    assert "all_bad.ndjson" in kept
    assert "all_bad.ndjson.reason.txt" in kept
    assert len([name for name in kept if not name.endswith(".reason.txt")]) == 5


def test_a_partly_bad_file_lands_its_good_records_and_dead_letters_the_rest(
    settings: Settings,
) -> None:
    drop(settings, "events/mixed.ndjson", ndjson([event(1), {"event_id": "x"}, event(2)]))
    summary = ingest_data(settings)
    assert (summary["accepted"], summary["rejected"]) == (2, 1)
    process_with_rust(settings)
    assert landed_ids(settings) == ["e1", "e2"]
    dead = Lake(settings).table("events_rejected").scan().to_arrow().to_pylist()
    assert [row["reason"] for row in dead] == ["missing"]
    state = StateStore(settings.state_database_url)
    try:
        job = state.job(summary["jobs"][0])
    finally:
        state.close()
    assert job is not None
    assert job["source"] == "landing"


def test_catalog_data_reports_each_table_and_update_dashboard_leaves_a_marker(
    settings: Settings,
) -> None:
    drop(settings, "events/a.ndjson", ndjson([event(1), event(2)]))
    ingest_data(settings)
    process_with_rust(settings)
    catalog = catalog_data(settings)
    assert catalog["tables"]["events"]["rows"] == 2
    assert catalog["tables"]["events"]["snapshot_id"] is not None
    marker = update_dashboard(settings)
    assert (
        json.loads(dashboard_marker(settings).read_text())["refreshed_at"] == marker["refreshed_at"]
    )


def test_compact_lake_merges_what_several_commits_wrote_and_keeps_every_row(
    settings: Settings,
) -> None:
    """Three loads, three commits (as several consumers make): three small files in the day's
    partition of each table, one after the scheduled compaction, run as its Airflow task
    runs it. Rows and the watermark are unchanged; a second run finds nothing to do."""
    for load in range(3):
        rows = [event(10 * load + i) for i in range(4)] + [event(100 + load, event_type="?")]
        drop(settings, f"events/load-{load}.ndjson", ndjson(rows))
        ingest_data(settings)
        process_with_rust(settings)
    lake = Lake(settings)
    before = {name: lake.table(name).scan().to_arrow().num_rows for name in lake.table_names()}
    watermark = lake.watermark("events")

    summary = run_task("compact_lake", settings)

    # Every table of the lake; the users' and products' are empty here: nothing to do.
    assert set(summary["tables"]) == {"events", "events_rejected", "users", "products"}
    assert summary["tables"]["users"] == {"snapshot_id": None, "partitions": 0, "files_removed": 0}
    events = summary["tables"]["events"]
    assert (events["partitions"], events["files_removed"]) == (1, 2)
    assert events["snapshot_id"] == str(
        Lake(settings).table("events").current_snapshot().snapshot_id
    )  # type: ignore[union-attr]
    assert summary["tables"]["events_rejected"]["files_removed"] == 2
    lake = Lake(settings)
    after = {name: lake.table(name).scan().to_arrow().num_rows for name in lake.table_names()}
    assert after == before
    assert (after["events"], after["events_rejected"]) == (12, 3)
    assert landed_ids(settings) == sorted(
        f"e{10 * load + i}" for load in range(3) for i in range(4)
    )
    assert lake.watermark("events") == watermark
    again = run_task("compact_lake", settings)["tables"]
    assert {t["snapshot_id"] for t in again.values()} == {None}


def test_an_s3_prefix_is_a_landing_folder_too(settings: Settings, aws_env: AwsEnv) -> None:
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket=aws_env.bucket)
    s3.put_object(
        Bucket=aws_env.bucket, Key="in/events/a.ndjson", Body=ndjson([event(1), event(2)])
    )
    s3.put_object(Bucket=aws_env.bucket, Key="in/events/notes.txt", Body=b"hello")
    s3.put_object(Bucket=aws_env.bucket, Key="other/events/b.ndjson", Body=ndjson([event(9)]))
    on_s3 = settings.model_copy(
        update={
            "landing_uri": f"s3://{aws_env.bucket}/in",
            "landing_endpoint_url": aws_env.endpoint_url,
        }
    )
    summary = ingest_data(on_s3)
    assert (summary["files"], summary["accepted"]) == (2, 2)
    assert summary["refused"] == [
        {"file": "events/notes.txt", "reason": summary["refused"][0]["reason"]}
    ]
    process_with_rust(on_s3)
    assert landed_ids(on_s3) == ["e1", "e2"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=aws_env.bucket).get("Contents", []))
    assert [k for k in keys if k.startswith("in/") and "/_" not in k] == []  # all moved
    assert any(k.startswith("in/_done/") and k.endswith("events/a.ndjson") for k in keys)
    assert any(k.endswith("events/notes.txt.reason.txt") for k in keys)
    assert "other/events/b.ndjson" in keys  # outside the prefix: not touched


def test_on_glue_catalog_data_reports_what_the_glue_table_points_at(
    aws_env: AwsEnv, tmp_path: Path
) -> None:
    # AWS mode: Glue + S3 lake, Snowflake warehouse (the DuckDB views are the local target's).
    aws_env.client("s3").create_bucket(Bucket=aws_env.bucket)
    settings = aws_settings(aws_env, tmp_path / "home").model_copy(
        update={"warehouse": WarehouseSettings(target="prod")}
    )
    drop(settings, "events/a.ndjson", ndjson([event(1), event(2)]))
    ingest_data(settings)
    process_with_rust(settings)
    events = catalog_data(settings)["tables"]["events"]
    glue = aws_env.client("glue").get_table(DatabaseName=aws_env.database, Name="events")
    location = glue["Table"]["Parameters"]["metadata_location"]
    assert events["metadata_location"] == location
    assert location.startswith(f"s3://{aws_env.bucket}/")
    current = Lake(settings).table("events").current_snapshot()
    assert current is not None
    assert events["snapshot_id"] == str(current.snapshot_id)
    assert events["rows"] == 2
    assert not settings.duckdb_path.exists()
