"""The lake with its Iceberg SQL catalog on a real PostgreSQL server: what several machines
share (the job state lives in the same database). Tables, commits, the watermark, writers
racing on one table, and many processes opening a fresh database at the same moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import data_processor_rs
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from eventlake.config import LakeSettings, Settings, SqlCatalogSettings
from eventlake.lake import Lake, SequenceRange
from eventlake.lake.catalog import catalog_properties, describe
from eventlake.lake.maintenance import compact
from eventlake.state import open_state
from tests.lake.conftest import RECEIVED_AT, process, sample_body
from tests.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]  # the fixtures, for this module's tests

OPENERS = 8
ROOT = Path(__file__).resolve().parents[2]


def on_postgres(home: Path, url: str) -> Settings:
    """A home for local files only: the catalog and the job state are in ``url``."""
    return Settings(
        home=home, lake=LakeSettings(catalog=SqlCatalogSettings(uri=url)), state_url=url
    )


@pytest.fixture
def settings(tmp_path: Path, postgres_url: str) -> Settings:
    return on_postgres(tmp_path / "home", postgres_url)


@pytest.fixture(scope="module")
def body() -> bytes:
    return sample_body(120, days=2)


def commit(
    lake: Lake, contract: data_processor_rs.Contract, body: bytes, key: str, sequence: int
) -> tuple[bool, int]:
    """One batch covering ``key``'s position ``sequence``: (skipped, attempts at the catalog)."""
    tag = f"{key}-{sequence}-".encode()
    batch = process(body.replace(b'"event_id":"', b'"event_id":"' + tag), contract)
    result = lake.commit_processed(
        batch,
        ranges={key: SequenceRange(sequence, sequence)},
        job_id=f"{key}-{sequence}",
        source="tests",
        received_at=RECEIVED_AT,
    )
    return result.skipped, result.rows.attempts


def event_ids(lake: Lake) -> list[str]:
    rows = lake.table("events").scan(selected_fields=("event_id",)).to_arrow()
    return [str(i) for i in rows.column("event_id").to_pylist()]


def test_the_catalog_lives_in_postgres_and_says_where_without_credentials(
    settings: Settings, postgres_url: str
) -> None:
    lake = Lake(settings)
    assert lake.catalog.engine.dialect.name == "postgresql"  # type: ignore[attr-defined]
    # A connection the server closed (restart, failover) is replaced, not failed on.
    assert catalog_properties(settings)["pool_pre_ping"] == "true"
    secret = on_postgres(settings.home, postgres_url.replace("postgres@", "postgres:s3cret@"))
    assert "s3cret" not in describe(secret)
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            namespaces = connection.execute(
                sa.text("select distinct namespace from iceberg_namespace_properties")
            ).scalars()
            assert list(namespaces) == [settings.lake.namespace]
    finally:
        engine.dispose()


def test_commits_land_once_and_another_machine_reads_the_watermark(
    settings: Settings, events_contract: data_processor_rs.Contract, body: bytes
) -> None:
    lake = Lake(settings)
    lake.ensure_dataset(events_contract)
    lake.ensure_dead_letter()
    assert commit(lake, events_contract, body, "s0", 0) == (False, 1)
    assert commit(lake, events_contract, body, "s0", 1) == (False, 1)
    landed = event_ids(lake)
    assert commit(lake, events_contract, body, "s0", 1) == (True, 0)  # a replay: a no-op

    other = Lake(settings)  # another process, with the same settings: the same tables
    assert other.watermark("events") == {"s0": 1}
    assert sorted(event_ids(other)) == sorted(landed)
    assert len(set(landed)) == len(landed) > 0
    assert other.watermark("events_rejected") == {"s0": 1}


def test_racing_writers_both_land_the_loser_retries(
    settings: Settings, events_contract: data_processor_rs.Contract, body: bytes, postgres_url: str
) -> None:
    """Two writers commit to one table at the same moment, deterministically: a third
    connection holds the table's catalog row while both writers reach their compare-and-swap,
    then lets go. One swap wins; the other finds the row changed, reloads and commits again."""
    Lake(settings).ensure_dataset(events_contract)
    Lake(settings).ensure_dead_letter()
    writers = {key: Lake(settings) for key in ("a", "b")}
    with ThreadPoolExecutor(2) as pool, events_row_held(postgres_url) as release_when_blocked:
        results = {
            key: pool.submit(commit, lake, events_contract, body, key, 0)
            for key, lake in writers.items()
        }
        release_when_blocked(2)  # both updates then run, one after the other
        outcomes = {key: future.result(timeout=120) for key, future in results.items()}
    assert sorted(outcomes.values()) == [(False, 1), (False, 2)]
    lake = Lake(settings)
    assert lake.watermark("events") == {"a": 0, "b": 0}
    ids = event_ids(lake)
    assert len(set(ids)) == len(ids)
    per_key = [sum(1 for i in ids if i.startswith(f"{key}-0-")) for key in writers]
    assert per_key[0] == per_key[1] == len(ids) // 2 > 0
    # Atomic: each snapshot added one writer's whole batch.
    added = [int(s.summary["added-records"]) for s in lake.table("events").snapshots()]
    assert added == [per_key[0]] * 2
    rejected = lake.table("events_rejected").scan().to_arrow()
    assert pc.count_distinct(rejected.column("job_id")).as_py() == 2


def test_compaction_racing_a_writer_loses_no_row(
    settings: Settings, events_contract: data_processor_rs.Contract, body: bytes, postgres_url: str
) -> None:
    """The scheduled compaction runs while consumers commit: held at the same moment as a
    writer's commit (as above), both land, whichever wins, and the watermark is the writer's."""
    lake = Lake(settings)
    lake.ensure_dataset(events_contract)
    lake.ensure_dead_letter()
    for sequence in range(3):
        commit(lake, events_contract, body, "s0", sequence)
    before = sorted(event_ids(lake))
    with ThreadPoolExecutor(2) as pool, events_row_held(postgres_url) as release_when_blocked:
        compaction = pool.submit(compact, Lake(settings), "events")
        writer = pool.submit(commit, Lake(settings), events_contract, body, "s0", 3)
        release_when_blocked(2)
        report, (skipped, _) = compaction.result(timeout=120), writer.result(timeout=120)
    assert not skipped
    assert report.files_removed > 0
    lake = Lake(settings)
    after = sorted(event_ids(lake))
    new = [i for i in after if i.startswith("s0-3-")]
    assert sorted(set(after) - set(new)) == before
    assert len(new) == len(after) - len(before) > 0
    assert lake.watermark("events") == {"s0": 3}
    operations = [
        s.summary["eventlake.operation"]
        for s in lake.table("events").snapshots()
        if "eventlake.operation" in s.summary.additional_properties
    ]
    assert operations == ["compact"]


@pytest.mark.slow  # two interpreters
def test_two_writer_processes_on_one_postgres_catalog_lose_nothing(
    settings: Settings, body: bytes, tmp_path: Path
) -> None:
    """As two consumers on two machines: separate processes that share only the database
    (and the warehouse), each committing its own shard's batches at the same time."""
    body_file = tmp_path / "events.ndjson"
    body_file.write_bytes(body)
    uri = settings.lake.catalog.uri  # type: ignore[union-attr]
    env = {**os.environ, "EVENTLAKE_LAKE__CATALOG__URI": str(uri)}
    Lake(settings)  # the warehouse folder, shared here as S3 would be
    batches = 3
    command = [sys.executable, "-m", "tests.lake.writer_process", str(settings.home)]
    command += [str(body_file), "--batches", str(batches)]
    writers = [
        subprocess.Popen(
            [*command, "--key", key],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key in ("a", "b")
    ]
    outcomes = []
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
        outcomes += [json.loads(line) for line in out.splitlines()]
    assert len(outcomes) == 2 * batches
    assert not any(o["skipped"] for o in outcomes)
    lake = Lake(settings)
    assert lake.watermark("events") == {"a": batches - 1, "b": batches - 1}
    ids = event_ids(lake)
    assert len(set(ids)) == len(ids)
    # Every batch of both writers whole, once.
    per_batch = [
        sum(1 for i in ids if i.startswith(f"{k}-{n}-")) for k in "ab" for n in range(batches)
    ]
    assert per_batch == [len(ids) // (2 * batches)] * (2 * batches)
    assert per_batch[0] > 0


@contextmanager
def events_row_held(postgres_url: str) -> Iterator[Callable[[int], None]]:
    """The events table's catalog row locked (``for update``) by a connection of its own, so
    that writers starting now all reach their compare-and-swap before any runs it. Gives
    ``release_when_blocked(count)``: it waits until ``count`` other sessions wait for a row
    lock, then lets go."""
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as holder:
            holder.execute(
                sa.text("select 1 from iceberg_tables where table_name = 'events' for update")
            )
            blocked = sa.text(
                "select count(*) from pg_stat_activity"
                " where datname = current_database() and wait_event_type = 'Lock'"
            )

            def release_when_blocked(count: int) -> None:
                deadline = time.monotonic() + 60
                while holder.execute(blocked).scalar_one() < count:
                    assert time.monotonic() < deadline, "the writers never reached their commit"
                    time.sleep(0.05)
                holder.commit()

            yield release_when_blocked
    finally:
        engine.dispose()


def test_many_processes_opening_a_fresh_database_at_once_all_start(
    settings: Settings, events_contract: data_processor_rs.Contract, postgres_url: str
) -> None:
    """A deploy starts the API and the consumers together on an empty database: each creates
    the job state's and the catalog's tables, the namespace and the tables of the lake. (Once
    the loser of that race failed; the compose stack had a one-shot init service for it.)
    Threads, each with its own connections: for the server, as many clients as processes."""
    start = threading.Barrier(OPENERS)

    def open_everything(_: int) -> str:
        start.wait()
        open_state(postgres_url).close()
        lake = Lake(settings)
        lake.ensure_dataset(events_contract)
        lake.ensure_dead_letter()
        return "started"

    with ThreadPoolExecutor(OPENERS) as pool:
        assert list(pool.map(open_everything, range(OPENERS))) == ["started"] * OPENERS
    lake = Lake(settings)
    assert lake.table_names() == ["events", "events_rejected"]
    with open_state(postgres_url) as state:
        state.check()
