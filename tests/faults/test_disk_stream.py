"""The stream's disk fills up under the API (issue 18, "Faults"): the embedded stream's file
on a small tmpfs, ``eventlake serve`` as a process, four clients sending batches with
Idempotency-Keys while the disk is filled to its last byte, then freed.

While it is full every request is answered 503 ``stream_unavailable`` with Retry-After (never
500, never 202 for a batch the stream did not take), and its key is released, so the client's
retry with the same key is not a 409; /api/v1/health says the stream's disk is full. Once a
filler file is deleted the same API process (no restart) takes the retries and new requests,
and every request that got a 202 lands in the lake exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from eventlake.config import get_settings
from eventlake.consumer import drain
from tests.faults.disk import (
    api_process,
    child_env,
    ids_of,
    lake_ids,
    post,
    small_disk,
    wait_until,
)

pytestmark = pytest.mark.slow

CLIENTS = 4


class Clients:
    """Clients sending a new batch each, retrying it with its key after a 503 until it is
    answered 202: what a well-behaved client does (sooner than Retry-After, to keep the test
    short)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.stop = threading.Event()
        self.accepted: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.unexpected: list[str] = []
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._send, args=(n,), daemon=True) for n in range(CLIENTS)
        ]

    def _send(self, client_number: int) -> None:
        batch = 0
        while not self.stop.is_set():
            name = f"c{client_number}-{batch}"
            while True:
                answer = post(self.client, name)
                with self.lock:
                    self.statuses[answer.status_code] += 1
                if answer.status_code == 202:
                    with self.lock:
                        self.accepted.append(name)
                    break
                refused = answer.status_code == 503 and (
                    answer.json()["error"]["code"] == "stream_unavailable"
                    and int(answer.headers["Retry-After"]) >= 1
                )
                if not refused:
                    with self.lock:
                        self.unexpected.append(f"{answer.status_code} {answer.text[:300]}")
                    return
                time.sleep(0.05)
            batch += 1

    def count(self, status: int) -> int:
        """Answers with ``status`` so far; fails at once if any answer was unexpected."""
        with self.lock:
            assert not self.unexpected, self.unexpected
            return self.statuses[status]


def test_a_full_stream_disk_answers_503_and_everything_accepted_lands_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("EVENTLAKE_STREAM__BACKEND__PATH", str(disk.path / "stream.db"))
        get_settings.cache_clear()
        settings = get_settings()
        with api_process(child_env(settings), tmp_path) as (client, api):
            clients = Clients(client)
            for thread in clients.threads:
                thread.start()
            try:
                wait_until(lambda: clients.count(202) >= 8, "the first batches to be accepted")
                disk.fill()
                wait_until(lambda: clients.count(503) >= 12, "the clients to be refused")
                accepted_while_full = clients.count(202)
                wait_until(lambda: clients.count(503) >= 24, "more refusals")
                # Only a batch whose commit was under way as the disk filled may have got in.
                assert clients.count(202) <= accepted_while_full + CLIENTS
                # Not ready, and why: the stream can be read but not written.
                health = client.get("/api/v1/health")
                assert health.status_code == 503, health.text
                assert "is full" in health.json()["checks"]["stream"]["error"]
                disk.free()
                # The same process, no restart: the retries, then new batches, go through.
                resumed = clients.count(202)
                wait_until(lambda: clients.count(202) >= resumed + 8, "the clients to resume")
                assert client.get("/api/v1/health").status_code == 200
            finally:
                clients.stop.set()
                for thread in clients.threads:
                    thread.join(timeout=30)
            assert not clients.unexpected, clients.unexpected
            assert "Traceback" not in api.output(), api.output()[-3000:]

        drain(settings)
        landed = lake_ids(settings)
        expected = [event_id for name in clients.accepted for event_id in ids_of(name)]
        assert len(landed) == len(set(landed)), "an event landed twice"
        assert sorted(landed) == sorted(expected)
