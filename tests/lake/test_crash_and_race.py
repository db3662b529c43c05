"""Crashes and races, with real processes: killed writers and two writers on one table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest

from eventlake.config import Settings
from eventlake.lake import Lake
from eventlake.lake.maintenance import inspect
from tests.lake.conftest import sample_body
from tests.lake.writer_process import CRASH_EXIT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def body_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("body") / "events.ndjson"
    path.write_bytes(sample_body(500, days=3))
    return path


def writer(home: Path, body: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.lake.writer_process", str(home), str(body), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_writer(home: Path, body: Path, *args: str) -> tuple[int, list[dict[str, object]]]:
    process = writer(home, body, *args)
    out, err = process.communicate(timeout=300)
    assert process.returncode in (0, CRASH_EXIT), err
    return process.returncode, [json.loads(line) for line in out.splitlines()]


def event_ids(lake: Lake) -> list[str]:
    return (
        lake.table("events")
        .scan(selected_fields=("event_id",))
        .to_arrow()
        .column("event_id")
        .to_pylist()
    )


def valid_rows_per_batch(home: Path, body: Path) -> int:
    """How many rows one batch lands, measured by a clean run in a separate lake."""
    code, out = run_writer(home, body, "--key", "probe")
    assert code == 0
    assert out
    return len(event_ids(Lake(Settings(home=home))))


def test_crash_between_writing_files_and_committing(tmp_path: Path, body_file: Path) -> None:
    per_batch = valid_rows_per_batch(tmp_path / "probe", body_file)
    home = tmp_path / "home"
    code, _ = run_writer(home, body_file, "--key", "s0", "--first", "0", "--crash", "before-commit")
    assert code == CRASH_EXIT
    lake = Lake(Settings(home=home))
    assert lake.watermark("events") == {}
    assert lake.watermark("events_rejected") == {"s0": 0}
    rejected = lake.table("events_rejected").scan().to_arrow().num_rows
    orphans = inspect(lake, "events").orphan_files
    assert len(orphans) >= 3, "the crashed writer's data files should be reported as orphans"
    assert all(o.endswith(".parquet") for o in orphans)

    # Restart: the table has no watermark, so the consumer resumes at 0 and commits again.
    code, out = run_writer(home, body_file, "--key", "s0", "--first", "0")
    assert code == 0
    assert out == [{"sequence": 0, "skipped": False, "attempts": 1}]
    ids = event_ids(lake)
    assert len(ids) == per_batch
    assert len(set(ids)) == len(ids)
    assert set(inspect(lake, "events").orphan_files) == set(orphans)
    # The dead-letter commit had gone through before the crash: the replay skipped it.
    assert lake.table("events_rejected").scan().to_arrow().num_rows == rejected > 0


def test_crash_after_commit_before_the_consumer_moves_on(tmp_path: Path, body_file: Path) -> None:
    home = tmp_path / "home"
    code, _ = run_writer(home, body_file, "--key", "s0", "--first", "7", "--crash", "after-commit")
    assert code == CRASH_EXIT
    lake = Lake(Settings(home=home))
    landed = event_ids(lake)
    assert landed
    assert lake.watermark("events") == {"s0": 7}

    # The consumer never recorded its progress, so it replays sequence 7: skipped.
    code, out = run_writer(home, body_file, "--key", "s0", "--first", "7", "--batches", "2")
    assert out == [
        {"sequence": 7, "skipped": True, "attempts": 0},
        {"sequence": 8, "skipped": False, "attempts": 1},
    ]
    ids = event_ids(lake)
    assert len(ids) == 2 * len(landed)
    assert len(set(ids)) == len(ids)
    assert inspect(lake, "events").orphan_files == ()


def test_two_writer_processes_on_one_table_lose_nothing(tmp_path: Path, body_file: Path) -> None:
    home = tmp_path / "home"
    Lake(Settings(home=home))  # create the catalog before the race
    batches = 6
    writers = [
        writer(home, body_file, "--key", key, "--batches", str(batches)) for key in ("a", "b")
    ]
    results = []
    for process in writers:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        results += [json.loads(line) for line in out.splitlines()]
    assert len(results) == 2 * batches
    assert not any(r["skipped"] for r in results)

    lake = Lake(Settings(home=home))
    ids = event_ids(lake)
    assert len(set(ids)) == len(ids)
    per_batch = len(ids) // (2 * batches)
    for key in ("a", "b"):
        for sequence in range(batches):
            prefix = f"{key}-{sequence}-"
            assert sum(1 for i in ids if i.startswith(prefix)) == per_batch
    assert lake.watermark("events") == {"a": batches - 1, "b": batches - 1}
    # Atomic: every snapshot added one whole batch, never part of one.
    added = [int(s.summary["added-records"]) for s in lake.table("events").snapshots()]
    assert added == [per_batch] * (2 * batches)
    rejected = lake.table("events_rejected").scan().to_arrow()
    assert pc.count_distinct(rejected.column("job_id")).as_py() == 2 * batches


def test_twin_writers_committing_the_same_range_land_it_once(
    tmp_path: Path, body_file: Path
) -> None:
    home = tmp_path / "home"
    Lake(Settings(home=home))
    twins = [
        writer(home, body_file, "--key", "s0", "--first", "3", "--batches", "3") for _ in range(2)
    ]
    outcomes = []
    for process in twins:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        outcomes += [json.loads(line) for line in out.splitlines()]
    for sequence in (3, 4, 5):
        committed = [o for o in outcomes if o["sequence"] == sequence and not o["skipped"]]
        assert len(committed) == 1, outcomes
    ids = event_ids(Lake(Settings(home=home)))
    assert len(set(ids)) == len(ids)
