"""The edge's protections from a real HTTP client: the app in uvicorn (in a thread, on a
loopback port) and httpx. Rate limiting per API key (429 with Retry-After), and the optional
key on /metrics."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

import httpx
import pytest

from eventlake.api.auth import parse_api_keys
from eventlake.api.rate_limit import TokenBuckets
from eventlake.config import Settings
from tests.api.conftest import event

KEYS = "alice:alice-secret,bob:bob-secret"
URL = "/api/v1/ingest?dataset=events"


def send(client: httpx.Client, secret: str, event_id: str) -> httpx.Response:
    return client.post(
        URL,
        content=json.dumps([event(event_id)]).encode(),
        headers={"X-API-Key": secret, "Content-Type": "application/json"},
    )


def test_each_key_has_its_own_bucket_and_is_told_when_to_come_back(
    serve: Callable[[Settings], httpx.Client],
) -> None:
    # A token every 4 s: the bucket cannot refill during the burst, even on a loaded machine.
    client = serve(
        Settings(api_keys=KEYS, api={"rate_limit_per_second": 0.25, "rate_limit_burst": 3})
    )
    answers = [send(client, "alice-secret", f"rl-{i}").status_code for i in range(3)]
    assert answers == [202, 202, 202]
    refused = send(client, "alice-secret", "rl-3")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_requests"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 4
    # Another key is not held up; a wrong key is 401 before any bucket is touched.
    assert send(client, "bob-secret", "rl-bob").status_code == 202
    assert send(client, "guess", "rl-x").status_code == 401
    # Every authenticated route counts, not only ingest.
    assert client.get("/api/v1/metrics", headers={"X-API-Key": "alice-secret"}).status_code == 429
    time.sleep(wait)
    assert send(client, "alice-secret", "rl-4").status_code == 202


def test_the_limit_is_off_by_default(serve: Callable[[Settings], httpx.Client]) -> None:
    settings = Settings(api_keys=KEYS)
    assert settings.api.rate_limit_per_second == 0
    client = serve(settings)
    statuses = {
        client.get("/api/v1/metrics", headers={"X-API-Key": "alice-secret"}).status_code
        for _ in range(120)
    }
    assert statuses == {200}


def test_a_bucket_refills_at_its_rate_up_to_its_size() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_second=2, burst=2, clock=lambda: now[0])
    assert [buckets.take("k"), buckets.take("k")] == [None, None]
    assert buckets.take("k") == pytest.approx(0.5)
    now[0] = 0.25
    assert buckets.take("k") == pytest.approx(0.25), "half a token back, a refusal costs none"
    now[0] = 100.0
    assert [buckets.take("k"), buckets.take("k"), buckets.take("k") is not None] == [
        None,
        None,
        True,
    ], "never more than the burst"


@pytest.mark.parametrize("required", [False, True])
def test_metrics_ask_for_a_key_when_told(
    serve: Callable[[Settings], httpx.Client], required: bool
) -> None:
    client = serve(Settings(api_keys=KEYS, api={"metrics_require_key": required}))
    bare = client.get("/metrics")
    assert bare.status_code == (401 if required else 200)
    for headers in (
        {"Authorization": "Bearer alice-secret"},
        {"X-API-Key": "alice-secret"},
    ):
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 200
        assert "eventlake_events_received" in answer.text
    basic = client.get("/metrics", auth=("prometheus", "bob-secret"))
    assert basic.status_code == 200
    assert client.get("/metrics", auth=("prometheus", "wrong")).status_code == (
        401 if required else 200
    )
    assert client.get("/api/v1/health").status_code in (200, 503), "health stays open"


def test_a_key_configured_by_its_digest_works_and_its_digest_is_no_key(
    serve: Callable[[Settings], httpx.Client],
) -> None:
    """The configuration may hold only a key's SHA-256; the client sends the secret."""
    digest = hashlib.sha256(b"ci-secret").hexdigest()
    other = hashlib.sha256(b"other-secret").hexdigest().upper()
    client = serve(Settings(api_keys=f"ci:sha256:{digest},sha256:{other}"))
    assert send(client, "ci-secret", "h-1").status_code == 202
    assert send(client, "other-secret", "h-4").status_code == 202
    assert send(client, digest, "h-2").status_code == 401
    assert send(client, f"sha256:{digest}", "h-3").status_code == 401
    keys = parse_api_keys(f"ci:sha256:{digest}, sha256:{digest}, plain")
    assert [key.source for key in keys] == ["ci", f"key-{digest[:8]}", keys[2].source]
    assert keys[0].digest == keys[1].digest == bytes.fromhex(digest)
    assert parse_api_keys("ci:ci-secret")[0].digest == keys[0].digest, "same key either way"
