"""A job published as several parts (one stream record per shard), on SQLite and PostgreSQL:
committed once every part is, whichever writer comes first; counts are the sums over the
parts; a replayed part sets, never adds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from eventlake.state import JobProgress, PublishedPart, StateStore

PARTS = [PublishedPart("shard-0", 11, 3), PublishedPart("shard-2", 7, 2)]


def publish(state: StateStore) -> None:
    state.add_published_job(
        "job-1", name="events", source="ci", received=5, accepted=4, rejected=1,
        stream="events", shard_id="shard-0", sequence_number=11, parts=PARTS,
    )  # fmt: skip


def part(shard: str, seq: int, landed: int, dead: int = 0, dups: int = 0) -> JobProgress:
    return JobProgress(
        "job-1", landed, dead, dups, snapshot_id=seq, dataset="events",
        received=landed + dead + dups, source="ci", shard_id=shard, sequence_number=seq, parts=2,
    )  # fmt: skip


@pytest.mark.parametrize("api_first", [True, False], ids=["api-first", "consumer-first"])
def test_a_job_is_committed_once_every_part_is(state: StateStore, api_first: bool) -> None:
    if api_first:
        publish(state)
    state.record_processed([part("shard-0", 11, landed=2, dead=1)])
    if not api_first:
        publish(state)
    job = state.job("job-1")
    assert job is not None
    assert job["status"] == "published"  # one part of two
    assert job["committed_at"] is None
    assert (job["landed"], job["dead_lettered"]) == (2, 1)
    assert [(p["shard_id"], p["committed_at"] is not None) for p in job["parts"]] == [
        ("shard-0", True), ("shard-2", False),
    ]  # fmt: skip

    state.record_processed([part("shard-2", 7, landed=1, dups=1)])
    state.record_processed([part("shard-2", 7, landed=1, dups=1)])  # a replay: set, not added
    job = state.job("job-1")
    assert job is not None
    assert job["status"] == "committed"
    assert (job["landed"], job["dead_lettered"], job["duplicates"]) == (3, 1, 1)
    assert (job["received"], job["accepted"], job["rejected"]) == (5, 4, 1)  # the API's
    assert (job["shard_id"], job["sequence_number"]) == ("shard-0", "11")
    assert [p["records"] for p in job["parts"]] == [3, 2]
    metrics = state.metrics()
    assert (metrics["events_landed"], metrics["events_duplicates"]) == (3, 1)


def test_parts_committed_before_the_api_writes_are_enough(state: StateStore) -> None:
    """The consumer knows from the stream record how many parts the request became."""
    state.record_processed([part("shard-0", 11, landed=3), part("shard-2", 7, landed=2)])
    job = state.job("job-1")
    assert job is not None
    assert (job["status"], job["landed"]) == ("committed", 5)
    publish(state)
    job = state.job("job-1")
    assert job is not None
    assert (job["status"], job["landed"], job["published_at"] is not None) == (
        "committed", 5, True,
    )  # fmt: skip


def test_a_forwarded_part_is_waited_for_and_counted_once(state: StateStore) -> None:
    """After a split, a consumer forwards some of a part's events to their owner (a new
    stream record). The job waits for it, and a copy forwarded again after a crash (its
    events all duplicates by then) changes nothing."""
    forwarded = ("shard-0", "11+1")  # forwarded_part_key(("shard-0", "11"), 1)
    publish(state)
    origin = part("shard-0", 11, landed=1, dead=1)
    state.record_processed([replace(origin, forwards=(forwarded,))])
    state.record_processed([part("shard-2", 7, landed=1, dups=1)])
    job = state.job("job-1")
    assert job is not None
    assert job["status"] == "published"  # both requested parts are in, the forwarded one not
    assert [p["sequence_number"] for p in job["parts"] if p["committed_at"] is None] == ["11+1"]

    owner = replace(part("shard-1", 3, landed=1), forwarded_as=forwarded)
    state.record_processed([owner])
    again = replace(part("shard-1", 4, landed=0, dups=1), forwarded_as=forwarded)
    state.record_processed([again])  # the copy: its first commit's counts stay
    job = state.job("job-1")
    assert job is not None
    assert job["status"] == "committed"
    assert (job["landed"], job["dead_lettered"], job["duplicates"]) == (3, 1, 1)
    assert len(job["parts"]) == 3


def test_forwarded_parts_do_not_stand_in_for_a_requested_one(state: StateStore) -> None:
    """The consumer can be first (no API rows yet): a forwarded part is not one of the parts
    the request became, so one requested part and its forward are not the whole job."""
    forwarded = ("shard-0", "11+1")
    origin = replace(part("shard-0", 11, landed=1), forwards=(forwarded,))
    owner = replace(part("shard-1", 3, landed=1), forwarded_as=forwarded)
    state.record_processed([origin, owner])
    job = state.job("job-1")
    assert job is not None
    assert job["status"] == "published"  # parts=2: shard-2's part has not been seen
    state.record_processed([part("shard-2", 7, landed=2)])
    job = state.job("job-1")
    assert job is not None
    assert (job["status"], job["landed"]) == ("committed", 4)


def test_requests_written_in_one_group_keep_every_row(state: StateStore) -> None:
    """The API's job writes of several requests go in one transaction, grouped by table (one
    executemany per statement); writes to one table keep their order."""
    writes = []
    for job in ("job-a", "job-b"):
        row = {
            "job_id": job, "kind": "ingest", "name": "events", "source": "ci",
            "status": "published", "created_at": 1.0, "updated_at": 1.0, "received": 3,
            "accepted": 3, "rejected": 0, "published_at": 1.0, "stream": "events",
            "shard_id": "shard-0", "sequence_number": "1", "detail": None,
        }  # fmt: skip
        writes.append((state._published, row))
        for i in range(2):
            part_row = {
                "job_id": job, "shard_id": f"shard-{i}", "sequence_number": str(i + 1),
                "part": i, "parts": 2, "records": i + 1, "published_at": 1.0,
            }  # fmt: skip
            writes.append((state._part_published, part_row))
    # The same job written again later in the group (its row is set again, in order).
    writes.append((state._published, {**writes[0][1], "received": 9, "accepted": 9}))
    state._write_group(writes)
    a, b = state.job("job-a"), state.job("job-b")
    assert a is not None
    assert b is not None
    assert (a["received"], b["received"]) == (9, 3)
    for job in (a, b):
        assert [(p["shard_id"], p["part"], p["records"]) for p in job["parts"]] == [
            ("shard-0", 0, 1), ("shard-1", 1, 2),
        ]  # fmt: skip


def test_requests_published_at_once_from_many_threads_all_land(state: StateStore) -> None:
    def publish_job(n: int) -> None:
        state.add_published_job(
            f"job-{n}", name="events", source="ci", received=5, accepted=5, rejected=0,
            stream="events", shard_id="shard-0", sequence_number=n, parts=PARTS,
        )  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(publish_job, range(40)))
    for n in range(40):
        job = state.job(f"job-{n}")
        assert job is not None
        assert job["status"] == "published"
        assert [(p["shard_id"], p["records"]) for p in job["parts"]] == [
            ("shard-0", 3), ("shard-2", 2),
        ]  # fmt: skip
