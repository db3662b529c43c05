"""Commits whose outcome the writer cannot know: the catalog committed, then the reply was lost.

The catalog is real; the failure is injected after its commit went through, the way a dropped
connection or a lost HTTP reply looks to the writer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import data_processor_rs
import pytest
from sqlalchemy.exc import OperationalError

from eventlake.lake import Lake, SequenceRange
from eventlake.lake.maintenance import compact, inspect
from tests.lake.conftest import process, sample_body


@pytest.fixture
def reply_lost_once(lake: Lake) -> Callable[[type[BaseException]], None]:
    """Arm: the next catalog commit goes through, then raises ``error``."""
    real = lake.catalog.commit_table
    armed: list[type[BaseException]] = []

    def commit_table(*args: Any, **kwargs: Any) -> Any:
        response = real(*args, **kwargs)
        if armed:
            raise armed.pop()
        return response

    lake.catalog.commit_table = commit_table  # type: ignore[method-assign]
    return armed.append


def lost_reply() -> type[BaseException]:
    class LostReplyError(OperationalError):
        def __init__(self) -> None:
            super().__init__("COMMIT", {}, Exception("server closed the connection"))

    return LostReplyError


def test_a_commit_that_landed_is_reported_committed_and_keeps_its_files(
    lake: Lake,
    events_contract: data_processor_rs.Contract,
    reply_lost_once: Callable[[type[BaseException]], None],
) -> None:
    lake.ensure_dataset(events_contract)
    batch = process(sample_body(300), events_contract)
    reply_lost_once(lost_reply())
    result = lake.commit("events", batch, ranges={"s0": SequenceRange(0, 0)}, job_ids=["job"])
    assert not result.skipped
    assert result.attempts == 1
    assert result.snapshot_id == lake.table("events").current_snapshot().snapshot_id
    # The rows are readable: their files were not taken for a loser's and deleted.
    assert lake.table("events").scan().to_arrow().num_rows == len(batch)
    assert len(lake.table("events").snapshots()) == 1
    assert lake.watermark("events") == {"s0": 0}


def three_small_commits(lake: Lake, contract: data_processor_rs.Contract) -> int:
    """Three batches over two days: two small files per partition to compact. Returns rows."""
    lake.ensure_dataset(contract)
    for sequence in range(3):
        batch = process(sample_body(200, seed=sequence, days=2), contract)
        lake.commit("events", batch, ranges={"s0": SequenceRange(sequence, sequence)})
    return int(lake.table("events").scan().to_arrow().num_rows)


def test_an_interrupted_compaction_that_landed_keeps_the_table_readable(
    lake: Lake,
    events_contract: data_processor_rs.Contract,
    reply_lost_once: Callable[[type[BaseException]], None],
) -> None:
    rows = three_small_commits(lake, events_contract)
    reply_lost_once(KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        compact(lake, "events")
    table = lake.table("events")
    assert table.current_snapshot().summary["eventlake.operation"] == "compact"
    assert table.scan().to_arrow().num_rows == rows
    assert inspect(lake, "events").orphan_files == ()


def test_a_compaction_whose_reply_was_lost_succeeds(
    lake: Lake,
    events_contract: data_processor_rs.Contract,
    reply_lost_once: Callable[[type[BaseException]], None],
) -> None:
    rows = three_small_commits(lake, events_contract)
    reply_lost_once(lost_reply())
    report = compact(lake, "events")
    assert report.files_removed > 0
    assert lake.table("events").scan().to_arrow().num_rows == rows


def test_blind_retries_switched_back_on_are_switched_off_again(
    lake: Lake, events_contract: data_processor_rs.Contract
) -> None:
    table = lake.ensure_dataset(events_contract)
    table.transaction().set_properties({"commit.retry.num-retries": "4"}).commit_transaction()
    lake.commit(
        "events",
        process(sample_body(50), events_contract),
        ranges={"s0": SequenceRange(0, 0)},
    )
    assert lake.table("events").properties["commit.retry.num-retries"] == "0"
