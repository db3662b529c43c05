"""API keys: configured or generated, where they are needed, and never leaked."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from eventlake.api.app import create_app
from eventlake.api.auth import local_api_key, local_key_path, parse_api_keys
from eventlake.config import Settings
from tests.api.conftest import event

URL = "/api/v1/ingest?dataset=events"
BODY = json.dumps([event()]).encode()
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic d3Jvbmc6d3Jvbmc="},
        {"X-API-Key": ""},
    ],
    ids=["none", "wrong key", "wrong bearer", "basic", "empty"],
)
def test_a_missing_or_wrong_key_is_401(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.post(URL, content=BODY, headers={**JSON, **headers})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["error"]["code"] == "unauthorized"


# The routes open without a key, as the app's description documents them: health checks and the
# Prometheus counts (what load balancers and scrapers call), and the API's own docs.
OPEN_ROUTES = {
    ("GET", "/api/v1/health"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}


def served_routes() -> set[tuple[str, str]]:
    """Every (method, path template) the app serves, behind included routers too."""
    app = create_app(Settings(home=Path("unused")))  # not started: nothing is opened
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        for method in route.methods or ()
        if method != "HEAD"  # answered as its GET is
    }


def concrete(path: str) -> str:
    """A URL for a path template: every parameter filled in (``{path:path}`` too)."""
    return re.sub(r"\{[^}]+\}", "x", path)


def test_the_walk_finds_the_routes_behind_the_routers() -> None:
    """Guards the next test against passing vacuously if routes moved out of sight."""
    routes = served_routes()
    assert OPEN_ROUTES.issubset(routes)
    assert {("POST", "/api/v1/ingest"), ("GET", "/api/v1/metrics")}.issubset(routes)
    assert ("GET", "/reports/{site}/{path:path}") in routes


@pytest.mark.parametrize(("method", "path"), sorted(served_routes() - OPEN_ROUTES))
def test_every_route_but_the_open_ones_needs_a_key(
    client: TestClient, method: str, path: str
) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}):
        answer = client.request(method, concrete(path), headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert "WWW-Authenticate" in answer.headers


@pytest.mark.parametrize(("method", "path"), sorted(OPEN_ROUTES))
def test_the_open_routes_need_no_key(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path).status_code != 401


def test_health_and_prometheus_metrics_are_open(client: TestClient) -> None:
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_the_key_works_as_header_or_bearer_token(client: TestClient, auth: dict[str, str]) -> None:
    key = auth["X-API-Key"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        assert client.post(URL, content=BODY, headers={**JSON, **headers}).status_code == 202


def test_configured_keys_name_the_source(make_client: Callable[..., TestClient]) -> None:
    client = make_client(Settings(api_keys=" ci:ci-secret , bare-secret ,"))
    named = client.post(URL, content=BODY, headers={**JSON, "X-API-Key": "ci-secret"})
    bare = client.post(URL, content=BODY, headers={**JSON, "X-API-Key": "bare-secret"})
    statuses = [
        client.get(a.json()["status_url"], headers={"X-API-Key": "ci-secret"})
        for a in (named, bare)
    ]
    sources = [s.json()["source"] for s in statuses]
    assert sources == ["ci", "key-" + hashlib.sha256(b"bare-secret").hexdigest()[:8]]


def test_configured_keys_replace_the_generated_one(
    make_client: Callable[..., TestClient], settings: Settings
) -> None:
    client = make_client(Settings(api_keys="ci:ci-secret"))
    assert not local_key_path(settings).exists()
    assert client.get("/api/v1/metrics", headers={"X-API-Key": "ci-secret"}).status_code == 200


@pytest.mark.parametrize("text", ["ci:", "bad name:secret", "a:b,:c"])
def test_malformed_key_settings_are_refused_without_quoting_secrets(text: str) -> None:
    with pytest.raises(ValueError, match="EVENTLAKE_API_KEYS") as error:
        parse_api_keys(text)
    assert "secret" not in str(error.value).replace("empty secret", "")


def test_the_generated_key_is_kept_private_and_reused(
    make_client: Callable[..., TestClient], settings: Settings
) -> None:
    first = make_client(settings)
    path = local_key_path(settings)
    key = path.read_text().strip()
    assert len(key) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first.__exit__(None, None, None)

    again = make_client(settings)  # a restart: same key
    assert local_api_key(settings) == key
    assert again.get("/api/v1/metrics", headers={"X-API-Key": key}).status_code == 200


def test_secrets_never_reach_logs_or_answers(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    secret, guess = "s3cret-value-1234567", "guessed-value-7654321"
    caplog.set_level(logging.DEBUG)
    client = make_client(Settings(api_keys=f"ci:{secret}"))
    answers = [
        client.post(URL, content=BODY, headers={**JSON, "X-API-Key": secret}),
        client.post(URL, content=BODY, headers={**JSON, "X-API-Key": guess}),
        client.post(URL, content=BODY, headers={**JSON, "Authorization": f"Bearer {guess}"}),
        client.post(URL, content=b"{", headers={**JSON, "X-API-Key": secret}),
        client.get("/api/v1/health"),
        client.get("/metrics"),
        client.get("/api/v1/metrics", headers={"X-API-Key": secret}),
    ]
    assert [a.status_code for a in answers] == [202, 401, 401, 422, 200, 200, 200]
    for text in [caplog.text, *(a.text for a in answers)]:
        assert secret not in text
        assert guess not in text
