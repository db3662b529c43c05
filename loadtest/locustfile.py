"""Load on the ingest path: 500-event JSON batches, as a busy client library would send them.

Run by ``make loadtest`` (see ``loadtest/run.py``), or by hand against a running API:

    LOADTEST_API_KEY=... locust -f loadtest/locustfile.py --host http://127.0.0.1:8000

Bodies are built before the test starts (a pool of distinct batches, each event with its own
id), so the load generator spends its CPU on sending, not on JSON: on a 2-core machine it
shares the CPUs with the server. After the pool is used up, batches repeat; the API accepts
them (the consumer later drops them as duplicates), which does not change the ingest path.
"""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta

from bodies import request_body  # locust puts this folder on sys.path
from locust import FastHttpUser, events, task
from locust.env import Environment

EVENTS_PER_REQUEST = int(os.environ.get("LOADTEST_EVENTS_PER_REQUEST", "500"))
POOL = int(os.environ.get("LOADTEST_POOL", "200"))


def _batch(rng: random.Random) -> bytes:
    return request_body(rng, EVENTS_PER_REQUEST, datetime.now(UTC) - timedelta(days=1))


BODIES: list[bytes] = []


@events.init.add_listener
def _build_bodies(**_kwargs: object) -> None:
    rng = random.Random(int(os.environ.get("LOADTEST_SEED", "7")))  # noqa: S311 — load-test traffic, not a secret
    BODIES.extend(_batch(rng) for _ in range(POOL))


@events.test_stop.add_listener
def _write_summary(environment: Environment, **_kwargs: object) -> None:
    """The final figures, for ``run.py``: locust's CSV is rewritten once a second, so at exit
    it can miss the run's last second of requests."""
    path = os.environ.get("LOADTEST_SUMMARY")
    if not path:
        return
    total = environment.stats.total
    summary = {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "requests_per_second": total.total_rps,
        "p50_ms": total.get_response_time_percentile(0.5),
        "p99_ms": total.get_response_time_percentile(0.99),
    }
    with open(path, "w") as handle:
        json.dump(summary, handle)


class IngestClient(FastHttpUser):
    """One client connection posting batches back to back (no think time)."""

    def on_start(self) -> None:
        self.headers = {
            "Content-Type": "application/json",
            "X-API-Key": os.environ["LOADTEST_API_KEY"],
        }
        self.next_body = random.randrange(len(BODIES))  # noqa: S311 — load-test traffic, not a secret

    @task
    def ingest(self) -> None:
        body = BODIES[self.next_body % len(BODIES)]
        self.next_body += 1
        with self.client.post(
            "/api/v1/ingest?dataset=events",
            data=body,
            headers=self.headers,
            name="POST /api/v1/ingest (500 events)",
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                text = response.text or ""  # None when the connection failed
                response.failure(f"{response.status_code}: {text[:200]}")
