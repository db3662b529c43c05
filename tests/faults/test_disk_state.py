"""The state database's disk fills up (issue 18, "Faults"): its SQLite file on a small tmpfs,
``eventlake serve`` and ``eventlake consume`` as processes, the disk filled to its last byte.

What needs the state database answers 503 ``state_unavailable`` with Retry-After: a request
with an Idempotency-Key (its claim cannot be written). A request without one is still 202 once
the batch is durably in the stream (docs/limitations.md: its job row is written by the
consumer when it lands the batch). The consumer cannot renew its shard leases meanwhile, so it
lands nothing; it keeps running and retries with backoff (it used to exit when idle: its
progress write was outside the retry). /api/v1/health says the state database's disk is
full. Once a filler file is deleted everything resumes without a restart, and every 202 lands
exactly once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eventlake.config import get_settings
from tests.faults.disk import (
    api_process,
    child_env,
    consumer_process,
    ids_of,
    lake_ids,
    post,
    small_disk,
    tail,
    wait_until,
)

pytestmark = pytest.mark.slow

# A state database error is an outage, said in one line with what the consumer waits for.
FAILED = re.compile(r"events: waiting for the state database sqlite:///\S+ \(OperationalError: ")


def test_a_full_state_disk_answers_503_for_keys_and_everything_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("EVENTLAKE_STATE_URL", f"sqlite:///{disk.path / 'state.db'}")
        get_settings.cache_clear()
        settings = get_settings()
        env = child_env(settings)
        accepted: list[str] = []

        def landed() -> list[str]:
            return lake_ids(settings)

        # The consumer first: it starts while the API does.
        with (
            consumer_process(env, tmp_path) as consumer,
            api_process(env, tmp_path) as (client, api),
        ):
            for n in range(3):
                answer = post(client, f"before-{n}")
                assert answer.status_code == 202, answer.text
                accepted.append(f"before-{n}")
            wait_until(lambda: len(landed()) == 150, "the first batches to land", timeout=60)

            disk.fill()
            # Idle, the consumer writes its progress (the lag /metrics shows): refused now.
            wait_until(lambda: FAILED.search(consumer.output()), "the consumer to fail once")
            assert consumer.alive(), tail(consumer)

            refused = []
            keyless_jobs = []
            for n in range(4):
                name = f"full-{n}"
                if n % 2 == 0:
                    answer = post(client, name)
                    assert answer.status_code == 503, answer.text
                    assert answer.json()["error"]["code"] == "state_unavailable"
                    assert int(answer.headers["Retry-After"]) >= 1
                    refused.append(name)
                else:
                    answer = post(client, name, key=False)
                    assert answer.status_code == 202, answer.text
                    accepted.append(name)
                    keyless_jobs.append(answer.json()["job_id"])
            wait_until(lambda: len(FAILED.findall(consumer.output())) >= 2, "the consumer to retry")
            assert consumer.alive(), tail(consumer)
            assert len(landed()) == 150
            # Not ready, and why: the database answers reads, but its disk takes no write (nor
            # the consumer's report of its failures).
            health = client.get("/api/v1/health")
            assert health.status_code == 503, health.text
            assert "is full" in health.json()["checks"]["state"]["error"]

            disk.free()
            for name in refused:
                answer = post(client, name)
                assert answer.status_code == 202, answer.text
                assert "Idempotent-Replayed" not in answer.headers
                accepted.append(name)
            expected = sorted(e for name in accepted for e in ids_of(name))
            assert client.get("/api/v1/health").status_code == 200
            wait_until(lambda: len(landed()) >= len(expected), "everything to land", timeout=40)
            for job_id in keyless_jobs:  # their job rows, written by the consumer after landing

                def committed(job_id: str = job_id) -> bool:
                    status = client.get(f"/api/v1/status/{job_id}")
                    return status.status_code == 200 and status.json()["status"] == "committed"

                wait_until(committed, f"job {job_id} to be recorded as committed")
                assert client.get(f"/api/v1/status/{job_id}").json()["landed"] == 50
            assert consumer.alive(), tail(consumer)
            assert consumer.stop() == 0, tail(consumer)
            assert "unexpected error" not in api.output(), api.output()[-3000:]
        ids = landed()
        assert len(ids) == len(set(ids)), "an event landed twice"
        assert sorted(ids) == expected
