"""Compaction, expiry and inspection on a table built by several small commits."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import data_processor_rs
import pyarrow as pa
import pytest

from eventlake.lake import Lake, SequenceRange
from eventlake.lake.maintenance import compact, expire, inspect
from eventlake.lake.watermark import WATERMARK
from tests.lake.conftest import RECEIVED_AT, process, sample_body

BATCHES = 4


@pytest.fixture
def small_files_lake(lake: Lake, events_contract: data_processor_rs.Contract) -> Lake:
    """Four commits of events over three days: four small files per day partition."""
    lake.ensure_dataset(events_contract)
    lake.ensure_dead_letter()
    for sequence in range(BATCHES):
        body = sample_body(600, seed=100 + sequence, days=3)
        lake.commit_processed(
            process(body, events_contract, job_id=f"job-{sequence}"),
            ranges={"events/0": SequenceRange(sequence, sequence)},
            job_id=f"job-{sequence}",
            source="tests",
            received_at=RECEIVED_AT,
        )
    return lake


def rows(lake: Lake) -> pa.Table:
    return (
        lake.table("events")
        .scan()
        .to_arrow()
        .sort_by([("event_id", "ascending"), ("_job_id", "ascending")])
    )


def parquet_files(lake: Lake) -> set[Path]:
    return set((lake.settings.home / "lake").rglob("*.parquet"))


def test_inspect_shows_snapshots_files_and_watermark(small_files_lake: Lake) -> None:
    report = inspect(small_files_lake, "events")
    assert len(report.snapshots) == BATCHES
    assert [s.job_ids for s in report.snapshots] == [(f"job-{i}",) for i in range(BATCHES)]
    assert report.snapshots[-1].ranges == '{"events/0":[3,3]}'
    assert report.partitioning == "day(event_timestamp)"
    assert report.records == rows(small_files_lake).num_rows
    assert {p.partition for p in report.partitions} >= {"2026-11-01", "2026-11-02", "2026-11-03"}
    assert all(p.files == BATCHES for p in report.partitions if p.partition != "2026-11-04")
    assert report.watermark == {"events/0": BATCHES - 1}
    assert report.orphan_files == ()


def test_compact_rewrites_small_files_without_changing_a_row(small_files_lake: Lake) -> None:
    before = rows(small_files_lake)
    report = compact(small_files_lake, "events")
    assert report.partitions
    assert all(p.files_after == 1 for p in report.partitions)
    assert all(p.files_before == BATCHES for p in report.partitions if p.partition != "2026-11-04")
    assert rows(small_files_lake).equals(before)
    table = small_files_lake.table("events")
    summary = table.current_snapshot().summary
    assert summary["eventlake.operation"] == "compact"
    assert table.properties[WATERMARK] == '{"events/0":3}'
    after = inspect(small_files_lake, "events")
    assert all(p.files == 1 for p in after.partitions)
    assert after.watermark == {"events/0": BATCHES - 1}
    # Compacting again finds nothing to do.
    assert compact(small_files_lake, "events").partitions == ()


def test_compact_one_partition_only(small_files_lake: Lake) -> None:
    report = compact(small_files_lake, "events", partition=date(2026, 11, 2))
    assert [p.partition for p in report.partitions] == ["2026-11-02"]
    files = {p.partition: p.files for p in inspect(small_files_lake, "events").partitions}
    assert files["2026-11-02"] == 1
    assert files["2026-11-01"] == BATCHES


def test_expire_keeps_the_watermark_and_deletes_unreferenced_files(small_files_lake: Lake) -> None:
    compact(small_files_lake, "events")
    before = rows(small_files_lake)
    files_before = parquet_files(small_files_lake)
    report = expire(small_files_lake, "events", older_than=timedelta(0), retain_last=1)
    assert report.expired_snapshots == BATCHES
    assert report.kept_snapshots == 1
    assert report.watermark == {"events/0": BATCHES - 1}
    live = inspect(small_files_lake, "events")
    assert report.deleted_files == len(files_before) - live.data_files - _dead_letter_files(
        small_files_lake
    )
    assert rows(small_files_lake).equals(before)
    assert small_files_lake.watermark("events") == {"events/0": BATCHES - 1}
    # A replay after expiry is still recognised.
    replay = small_files_lake.commit(
        "events", pa.table({}), ranges={"events/0": SequenceRange(2, 2)}
    )
    assert replay.skipped


def test_expire_respects_age_and_retain_last(small_files_lake: Lake) -> None:
    assert expire(small_files_lake, "events", older_than=timedelta(days=1)).expired_snapshots == 0
    kept = expire(small_files_lake, "events", older_than=timedelta(0), retain_last=3)
    assert kept.expired_snapshots == 1
    assert kept.kept_snapshots == 3
    with pytest.raises(ValueError, match="retain_last"):
        expire(small_files_lake, "events", older_than=timedelta(0), retain_last=0)


def _dead_letter_files(lake: Lake) -> int:
    return inspect(lake, "events_rejected").data_files
