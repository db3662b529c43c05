"""Committing processed batches: what lands, what is rejected, and replays."""

from __future__ import annotations

import json

import data_processor_rs
import duckdb
import polars as pl
import pyarrow as pa
import pytest

from eventlake.lake import DEAD_LETTER_TABLE, Lake, SequenceRange, WatermarkOverlapError
from eventlake.lake.writer import DUPLICATES, RECEIVED, REJECTED
from tests.lake.conftest import RECEIVED_AT, process, sample_body


@pytest.fixture
def batch(events_contract: data_processor_rs.Contract) -> data_processor_rs.TransformedBatch:
    return process(sample_body(4000), events_contract, job_id="job-1")


def commit(
    lake: Lake,
    batch: data_processor_rs.TransformedBatch,
    first: int = 0,
    last: int = 0,
    key: str = "events/0",
):
    lake.ensure_dataset(batch.contract)
    lake.ensure_dead_letter()
    return lake.commit_processed(
        batch,
        ranges={key: SequenceRange(first, last)},
        job_id="job-1",
        source="tests",
        received_at=RECEIVED_AT,
    )


def sort(table: pa.Table) -> pa.Table:
    return table.sort_by("event_id")


def test_rows_read_back_identically_by_pyiceberg_duckdb_and_polars(
    lake: Lake, batch: data_processor_rs.TransformedBatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLARS_ICEBERG_PLANNER", "pyiceberg")  # polars reads the files itself
    result = commit(lake, batch)
    expected = sort(pa.Table.from_batches([batch.to_arrow()]))
    table = lake.table("events")

    scanned = sort(table.scan().to_arrow())
    assert scanned.num_rows == len(batch) > 3000
    assert scanned.cast(expected.schema).equals(expected)

    via_duckdb = duckdb.sql("select * from scanned order by event_id").to_arrow_table()
    assert via_duckdb.cast(expected.schema).equals(expected)

    via_polars = pl.scan_iceberg(table).sort("event_id").collect()
    assert via_polars.equals(pl.from_arrow(expected))

    assert result.rows.files == len(set(scanned.column("event_date").to_pylist()))
    assert table.current_snapshot().snapshot_id == result.rows.snapshot_id


def test_counts_reconcile_in_the_snapshot_summary(
    lake: Lake, batch: data_processor_rs.TransformedBatch
) -> None:
    result = commit(lake, batch)
    summary = lake.table("events").current_snapshot().summary
    received, rejected, duplicates = (int(summary[k]) for k in (RECEIVED, REJECTED, DUPLICATES))
    landed = int(summary["added-records"])
    assert received == 4000
    assert rejected > 0
    assert duplicates > 0
    assert received == landed + rejected + duplicates
    assert result.received == received
    assert result.rows.records == landed
    assert summary["eventlake.job-ids"] == "job-1"


def test_rejected_records_land_in_the_dead_letter_table(
    lake: Lake, batch: data_processor_rs.TransformedBatch
) -> None:
    commit(lake, batch)
    dead = lake.table(DEAD_LETTER_TABLE).scan().to_arrow().sort_by("record_index")
    core = batch.rejected
    assert dead.num_rows == core.num_rows == batch.num_rejected
    assert dead.column("raw").to_pylist() == core.column("raw").to_pylist()
    assert dead.column("reason").to_pylist() == core.column("reason").to_pylist()
    assert dead.column("line").to_pylist() == core.column("line").to_pylist()
    assert set(dead.column("dataset").to_pylist()) == {"events"}
    assert set(dead.column("job_id").to_pylist()) == {"job-1"}
    assert set(dead.column("received_at").to_pylist()) == {RECEIVED_AT}
    assert "invalid_json" in set(dead.column("reason").to_pylist())


def test_a_replayed_range_is_a_no_op(lake: Lake, batch: data_processor_rs.TransformedBatch) -> None:
    first = commit(lake, batch, 10, 20)
    snapshot = lake.table("events").current_snapshot().snapshot_id
    files = set((lake.settings.home / "lake").rglob("*.parquet"))
    replay = commit(lake, batch, 10, 20)
    assert not first.skipped
    assert replay.skipped
    assert replay.rejected is not None
    assert replay.rejected.skipped
    assert lake.table("events").current_snapshot().snapshot_id == snapshot
    assert set((lake.settings.home / "lake").rglob("*.parquet")) == files, (
        "replay left files behind"
    )
    assert lake.table("events").scan().to_arrow().num_rows == len(batch)
    assert lake.watermark("events") == {"events/0": 20}


def test_a_range_overlapping_the_watermark_is_refused_and_leaves_nothing(
    lake: Lake, batch: data_processor_rs.TransformedBatch
) -> None:
    commit(lake, batch, 10, 20)
    files = set((lake.settings.home / "lake").rglob("*.parquet"))
    with pytest.raises(WatermarkOverlapError, match="committed up to 20"):
        commit(lake, batch, 15, 30)
    assert set((lake.settings.home / "lake").rglob("*.parquet")) == files
    assert lake.table("events").scan().to_arrow().num_rows == len(batch)


def test_watermark_moves_per_key(lake: Lake, events_contract: data_processor_rs.Contract) -> None:
    for key, seq in [("events/0", 5), ("events/1", 3), ("events/0", 9)]:
        event = {"event_id": f"{key}-{seq}", "user_id": "u", "event_type": "login"}
        body = json.dumps(event | {"event_timestamp": "2026-11-02T00:00:00Z"}).encode()
        commit(lake, process(body, events_contract), seq, seq, key=key)
    assert lake.watermark("events") == {"events/0": 9, "events/1": 3}
    assert lake.table("events").scan().to_arrow().num_rows == 3


def test_a_batch_with_no_valid_rows_still_moves_the_watermark(
    lake: Lake, events_contract: data_processor_rs.Contract
) -> None:
    result = commit(lake, process(b'{"event_id": 5}\n{"event_id": 6}\n', events_contract), 0, 0)
    assert result.rows.records == 0
    assert result.rejected is not None
    assert result.rejected.records == 2
    assert lake.watermark("events") == {"events/0": 0}
    assert lake.watermark(DEAD_LETTER_TABLE) == {"events/0": 0}
    assert commit(
        lake, process(b'{"event_id": 5}\n{"event_id": 6}\n', events_contract), 0, 0
    ).skipped
    assert lake.table(DEAD_LETTER_TABLE).scan().to_arrow().num_rows == 2
