"""The state store behaves the same on SQLite (the default) and on a real PostgreSQL server
(production: several machines share it). Every test runs on both backends."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from eventlake.state import (
    CommitRecord,
    IdempotencyConflictError,
    JobProgress,
    ShardProgress,
    StateStore,
    open_state,
)

CLAIMERS = 8


def test_the_backend_is_the_one_asked_for(state: StateStore, state_url: str) -> None:
    assert state.engine.dialect.name == state_url.split(":")[0].split("+")[0]
    state.check()


def test_stores_opened_at_once_on_a_fresh_database_all_start(state_url: str) -> None:
    """Processes starting together (a deploy: the API's workers, the consumers) each create
    the tables on first use; the losers of that race once failed with "already exists" (on
    PostgreSQL, a duplicate key in pg_type)."""
    start = threading.Barrier(CLAIMERS)

    def open_one(_: int) -> str:
        start.wait(timeout=30)
        store = open_state(state_url)
        try:
            store.check()
            return "open"
        finally:
            store.close()

    with ThreadPoolExecutor(CLAIMERS) as pool:
        assert list(pool.map(open_one, range(CLAIMERS))) == ["open"] * CLAIMERS
    with open_state(state_url) as store:
        store.add_job(
            "job-1", name="events", source="ci", status="published", received=1, accepted=1,
            rejected=0,
        )  # fmt: skip
        assert store.job("job-1") is not None


# --- jobs ---------------------------------------------------------------------------------


def test_an_ingest_job_reads_back_as_written(state: StateStore) -> None:
    state.add_job(
        "job-1", name="events", source="ci", status="rejected", received=3, accepted=0,
        rejected=3, detail={"errors": [{"line": 1}]},
    )  # fmt: skip
    job = state.job("job-1")
    assert job is not None
    assert (job["kind"], job["name"], job["source"], job["status"]) == (
        "ingest", "events", "ci", "rejected",
    )  # fmt: skip
    assert (job["received"], job["accepted"], job["rejected"]) == (3, 0, 3)
    assert job["detail"] == {"errors": [{"line": 1}]}
    assert state.job("no-such-job") is None


def test_the_consumer_may_record_a_job_before_the_api_does(state: StateStore) -> None:
    """Either order gives the same job: the API's fields and the consumer's counts."""
    progress = JobProgress("job-1", landed=4, dead_lettered=1, duplicates=0, snapshot_id=42,
                           dataset="events", received=5, source="ci")  # fmt: skip
    state.record_processed([progress])
    state.add_published_job(
        "job-1", name="events", source="ci", received=5, accepted=4, rejected=1,
        stream="events", shard_id="shard-0", sequence_number=7,
    )  # fmt: skip
    job = state.job("job-1")
    assert job is not None
    assert job["status"] == "committed"
    assert (job["landed"], job["dead_lettered"], job["duplicates"]) == (4, 1, 0)
    assert (job["shard_id"], job["sequence_number"], job["snapshot_id"]) == ("shard-0", "7", "42")
    assert job["published_at"] is not None
    assert job["committed_at"] is not None


def test_a_replayed_batch_sets_counts_and_keeps_the_snapshot(state: StateStore) -> None:
    state.add_published_job(
        "job-1", name="events", source="ci", received=5, accepted=5, rejected=0,
        stream="events", shard_id="shard-0", sequence_number=1,
    )  # fmt: skip
    first = JobProgress("job-1", landed=5, dead_lettered=0, duplicates=0, snapshot_id=9)
    state.record_processed([first])
    committed_at = state.job("job-1")["committed_at"]  # type: ignore[index]
    # A replay after a crash: the same counts again, the snapshot unknown.
    state.record_processed([JobProgress("job-1", landed=5, dead_lettered=0, duplicates=0,
                                        snapshot_id=None)])  # fmt: skip
    job = state.job("job-1")
    assert job is not None
    assert (job["landed"], job["snapshot_id"], job["committed_at"]) == (5, "9", committed_at)
    assert state.metrics()["events_landed"] == 5  # set, never added


def test_concurrent_api_writes_all_land(state: StateStore) -> None:
    """The API's request threads write through one grouped transaction at a time."""

    def publish(n: int) -> None:
        state.add_published_job(
            f"job-{n}", name="events", source="ci", received=2, accepted=2, rejected=0,
            stream="events", shard_id="shard-0", sequence_number=n,
        )  # fmt: skip

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(publish, range(200)))
    metrics = state.metrics()
    assert (metrics["jobs"], metrics["events_accepted"]) == (200, 400)
    assert metrics["accepted_per_second"] == pytest.approx(400 / 60)


# --- pipeline runs ------------------------------------------------------------------------


def test_the_last_finished_run_is_reported(state: StateStore) -> None:
    for run_id, status, finished_at in (
        ("run-1", "failed", 100.0), ("run-2", "succeeded", 200.0), ("run-3", "running", None),
    ):  # fmt: skip
        state.create_job(run_id, kind="run", name="transform", status="queued")
        state.update_job(run_id, status=status, finished_at=finished_at,
                         detail={"result": {"models": 3}})  # fmt: skip
    state.create_job("run-4", kind="run", name="quality", status="queued")

    last = state.last_run("transform")
    assert last is not None
    assert (last["job_id"], last["status"], last["detail"]) == (
        "run-2", "succeeded", {"result": {"models": 3}},
    )  # fmt: skip
    assert state.last_run("quality") is None  # queued is not finished
    assert [run["job_id"] for run in state.recent_jobs(kind="run", limit=2)] == ["run-4", "run-3"]
    assert state.metrics()["last_runs"] == {
        "transform": {"run_id": "run-2", "status": "succeeded", "finished_at": 200.0,
                      "error": None, "result": {"models": 3}},
        "quality": None,
    }  # fmt: skip
    assert state.metrics()["jobs"] == 0  # runs are not ingest jobs


# --- consumer progress and commits --------------------------------------------------------


def test_shard_progress_and_commits_show_in_metrics(state: StateStore) -> None:
    state.record_shards([ShardProgress("events", "shard-0", "c1", position=10, behind=5)])
    state.record_shards([
        ShardProgress("events", "shard-0", "c2", position=20, behind=0),
        ShardProgress("events", "shard-1", "c2", position=None, behind=None),
    ])  # fmt: skip
    state.record_commit(CommitRecord("events", snapshot_id=7, rows=3, dead_lettered=1,
                                     duplicates=2))  # fmt: skip
    state.record_commit(CommitRecord("events", snapshot_id=None, rows=4, dead_lettered=0,
                                     duplicates=0))  # fmt: skip
    metrics = state.metrics()
    lag = [(s["shard_id"], s["consumer"], s["position"], s["behind"])
           for s in metrics["consumer_lag"]]  # fmt: skip
    assert lag == [("shard-0", "c2", "20", 0), ("shard-1", "c2", None, None)]
    last = metrics["last_commit"]
    assert (last["rows"], last["snapshot_id"]) == (4, None)
    assert metrics["landed_per_second"] == pytest.approx(7 / 60)


# --- idempotency --------------------------------------------------------------------------


def test_a_key_is_claimed_once_then_replays_the_first_answer(state: StateStore) -> None:
    assert state.claim_idempotency_key("ci", "k1", "body-a") is None
    with pytest.raises(IdempotencyConflictError, match="still being processed"):
        state.claim_idempotency_key("ci", "k1", "body-a")
    state.store_idempotent_answer("ci", "k1", 202, '{"job_id": "job-1"}')
    assert state.claim_idempotency_key("ci", "k1", "body-a") == (202, '{"job_id": "job-1"}')
    with pytest.raises(IdempotencyConflictError, match="different request body"):
        state.claim_idempotency_key("ci", "k1", "body-b")
    # Keys belong to a source: another client's same key is its own.
    assert state.claim_idempotency_key("other", "k1", "body-b") is None


def test_a_released_or_abandoned_claim_can_be_claimed_again(state: StateStore) -> None:
    assert state.claim_idempotency_key("ci", "k1", "body") is None
    state.release_idempotency_key("ci", "k1")
    assert state.claim_idempotency_key("ci", "k1", "body") is None

    # A first request that died long ago: its claim is taken over.
    with state.engine.begin() as connection:
        connection.execute(sa.text("UPDATE idempotency_keys SET created_at = created_at - 3600"))
    assert state.claim_idempotency_key("ci", "k1", "body") is None
    with pytest.raises(IdempotencyConflictError):
        state.claim_idempotency_key("ci", "k1", "body")

    # An answered key is never released.
    state.store_idempotent_answer("ci", "k1", 202, "{}")
    state.release_idempotency_key("ci", "k1")
    assert state.claim_idempotency_key("ci", "k1", "body") == (202, "{}")


def _claim(state: StateStore, key: str) -> str:
    try:
        return "claimed" if state.claim_idempotency_key("ci", key, "body") is None else "replayed"
    except IdempotencyConflictError:
        return "conflict"


def test_twin_requests_in_threads_claim_a_key_once(state: StateStore) -> None:
    for key in ("k1", "k2", "k3"):
        start = threading.Barrier(CLAIMERS)  # all claim at once: the race the API sees

        def claim(_: int, key: str = key, start: threading.Barrier = start) -> str:
            start.wait(timeout=30)
            return _claim(state, key)

        with ThreadPoolExecutor(CLAIMERS) as pool:
            outcomes = sorted(pool.map(claim, range(CLAIMERS)))
        assert outcomes == ["claimed"] + ["conflict"] * (CLAIMERS - 1), key


def _claim_in_process(url: str, start: Any, outcomes: Any) -> None:
    store = StateStore(url)
    try:
        store.check()  # connected before the race starts
        start.wait(timeout=60)
        outcomes.put(_claim(store, "k1"))
    finally:
        store.close()


@pytest.mark.slow  # spawns interpreters
def test_twin_requests_in_processes_claim_a_key_once(state: StateStore, state_url: str) -> None:
    """Separate API workers (or machines) share only the database."""
    processes = 3
    context = multiprocessing.get_context("spawn")
    start, outcomes = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_claim_in_process, args=(state_url, start, outcomes))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * processes
    results = sorted(outcomes.get(timeout=10) for _ in range(processes))
    assert results == ["claimed"] + ["conflict"] * (processes - 1)
