"""GET /api/v1/health: ready when every dependency answers, 503 naming the one that does not."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient

from eventlake.api.auth import local_api_key
from eventlake.config import Settings
from tests.api.conftest import event


def test_healthy(client: TestClient) -> None:
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200
    health = answer.json()
    assert (health["status"], health["live"], health["ready"]) == ("ok", True, True)
    assert set(health["checks"]) == {"stream", "catalog", "state"}
    for check in health["checks"].values():
        assert check["ok"] is True
        assert check["error"] is None
        assert check["duration_ms"] >= 0


def test_a_broken_catalog_is_503_naming_it(make_client: Callable[..., TestClient]) -> None:
    broken = "sqlite:////nonexistent-eventlake-dir/deeper/catalog.db"
    client = make_client(Settings(lake={"catalog": {"kind": "sql", "uri": broken}}))
    answer = client.get("/api/v1/health")
    assert answer.status_code == 503
    health = answer.json()
    assert (health["status"], health["live"], health["ready"]) == ("degraded", True, False)
    assert health["checks"]["catalog"]["ok"] is False
    assert health["checks"]["catalog"]["error"]
    assert health["checks"]["state"]["ok"]
    assert health["checks"]["stream"]["ok"]


def test_a_state_database_that_cannot_be_opened(
    make_client: Callable[..., TestClient], settings: Settings
) -> None:
    """The service starts anyway, says which dependency is down, and answers 503."""
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "a-file").write_text("not a folder")
    bad = Settings(state_url=f"sqlite:///{settings.home / 'a-file' / 'state.db'}")
    client = make_client(bad)

    health = client.get("/api/v1/health")
    assert health.status_code == 503
    checks = health.json()["checks"]
    assert checks["state"]["ok"] is False
    assert "job database" in checks["state"]["error"]
    assert checks["stream"]["ok"]
    assert checks["catalog"]["ok"]

    answer = client.post(
        "/api/v1/ingest?dataset=events",
        content=json.dumps([event()]).encode(),
        headers={"X-API-Key": local_api_key(bad), "Content-Type": "application/json"},
    )
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "state_unavailable"
    assert answer.headers["Retry-After"]
    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert "eventlake_state_up 0.0" in scrape.text


def test_a_credential_in_a_url_is_not_shown(make_client: Callable[..., TestClient]) -> None:
    url = "postgresql+psycopg://admin:hunter2@127.0.0.1:1/state"
    client = make_client(Settings(state_url=url))
    answer = client.get("/api/v1/health")
    assert answer.status_code == 503
    assert "hunter2" not in answer.text
