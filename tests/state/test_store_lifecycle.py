"""The state store as a context manager: its engine's connections are closed when the block
ends, normally or by an exception; the parts of the store share one database."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlake.state import JobProgress, StateStore


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def test_a_with_block_disposes_of_the_engine(tmp_path: Path) -> None:
    with StateStore(_url(tmp_path)) as state:
        state.create_job("run-1", kind="run", name="transform", status="queued")
        assert state.engine.pool.checkedin() >= 1  # kept for the next query
    assert state.engine.pool.checkedin() == 0
    with StateStore(_url(tmp_path)) as again:  # what was written is there for the next one
        job = again.job("run-1")
    assert job is not None
    assert job["status"] == "queued"


def test_an_exception_in_the_block_still_disposes_and_propagates(tmp_path: Path) -> None:
    opened: list[StateStore] = []

    def fail_inside() -> None:
        with StateStore(_url(tmp_path)) as state:
            opened.append(state)
            state.check()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert opened[0].engine.pool.checkedin() == 0


def test_jobs_progress_and_metrics_share_one_database(tmp_path: Path) -> None:
    """A job the API recorded, the consumer's progress on it, and the metrics over both."""
    with StateStore(_url(tmp_path)) as state:
        state.add_published_job(
            "job-1", name="events", source="ci", received=3, accepted=3, rejected=0,
            stream="events", shard_id="shard-0", sequence_number=7,
        )  # fmt: skip
        state.record_processed(
            [JobProgress("job-1", landed=2, dead_lettered=0, duplicates=1, snapshot_id=42)]
        )
        job = state.job("job-1")
        metrics = state.metrics()
    assert job is not None
    assert (job["status"], job["landed"], job["duplicates"]) == ("committed", 2, 1)
    assert (metrics["events_received"], metrics["events_landed"]) == (3, 2)
