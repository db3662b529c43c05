"""The lake's disk fills up under the consumer (issue 18, "Faults"): the Iceberg warehouse
folder and the SQL catalog's database on a small tmpfs, ``eventlake consume`` as a process,
the disk filled to its last byte while batches keep arriving.

Its commits fail (no space for the Parquet files); the consumer logs each failure, records
it where /health and /metrics read it (``consumer_faults``), starts again from what the lake
holds and retries with backoff, and keeps running; the files a failed attempt wrote are
removed. Once a filler file is deleted it lands everything the stream acknowledged, exactly
once, without a restart, and leaves no orphan file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eventlake.config import get_settings
from eventlake.ingest import Ingestor
from eventlake.lake import Lake
from eventlake.lake.maintenance import orphan_files
from eventlake.state import open_state
from tests.faults.disk import (
    body,
    child_env,
    consumer_process,
    ids_of,
    lake_ids,
    small_disk,
    tail,
    wait_until,
)

pytestmark = pytest.mark.slow

FAILED = re.compile(r"batch failed; retrying")


def test_a_full_lake_disk_stops_commits_and_the_consumer_lands_it_all_once_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        # The lake is its files and its catalog: both on the small disk.
        monkeypatch.setenv("EVENTLAKE_LAKE__CATALOG__WAREHOUSE", disk.path.as_uri())
        monkeypatch.setenv("EVENTLAKE_LAKE__CATALOG__URI", f"sqlite:///{disk.path / 'catalog.db'}")
        get_settings.cache_clear()
        settings = get_settings()
        state = open_state(settings.state_database_url)
        ingestor = Ingestor(settings, state)
        accepted: list[str] = []

        def accept(name: str) -> None:
            # The API's own path, in this process: 202 means durably in the stream.
            answer = ingestor.accept(
                body(name),
                dataset="events",
                content_type="application/json",
                content_encoding=None,
                source="disk",
                idempotency_key=name,
            )
            assert answer.status_code == 202, answer.body
            accepted.append(name)

        def landed() -> list[str]:
            return lake_ids(settings)

        try:
            with consumer_process(child_env(settings), tmp_path) as consumer:
                for n in range(3):
                    accept(f"before-{n}")
                wait_until(lambda: len(landed()) == 150, "the first batches to land", timeout=60)

                disk.fill()
                for n in range(3):
                    accept(f"full-{n}")
                wait_until(
                    lambda: len(FAILED.findall(consumer.output())) >= 2,
                    "the consumer to fail and retry twice",
                )
                assert consumer.alive(), tail(consumer)
                assert "No space left on device" in consumer.output(), tail(consumer)
                assert len(landed()) == 150  # nothing committed while full
                # What /health (consumers_failing) and /metrics show meanwhile.
                (fault,) = state.consumer_faults()
                failed = fault["failed_batches"]
                assert isinstance(failed, int), fault
                assert failed >= 2
                assert "No space left on device" in str(fault["last_error"])

                disk.free()
                for n in range(3):
                    accept(f"after-{n}")
                expected = sorted(e for name in accepted for e in ids_of(name))
                wait_until(lambda: len(landed()) >= len(expected), "everything to land", timeout=40)
                assert consumer.alive(), tail(consumer)
                wait_until(lambda: not state.consumer_faults(), "the fault to clear")
                assert consumer.stop() == 0, tail(consumer)
        finally:
            ingestor.close()
            state.close()
        ids = landed()
        assert len(ids) == len(set(ids)), "an event landed twice"
        assert sorted(ids) == expected
        # The failed attempts' files (one cut short by the full disk) were removed, not left
        # to hold the space their retries needed.
        assert list(orphan_files(Lake(settings).table("events"))) == []
