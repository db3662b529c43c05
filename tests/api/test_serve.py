"""``eventlake serve``: uvicorn with the app factory, and where the API key comes from."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from eventlake.api.auth import local_key_path
from eventlake.cli import app
from eventlake.config import get_settings

runner = CliRunner()


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def test_serve_runs_the_factory_and_prints_the_generated_key(
    uvicorn_calls: list[tuple[Any, ...]],
) -> None:
    result = runner.invoke(app, ["serve", "--port", "8123", "--workers", "2"])

    assert result.exit_code == 0, result.output
    [(args, kwargs)] = uvicorn_calls
    assert args == ("eventlake.api.app:create_app",)
    assert kwargs == {
        "factory": True,
        "host": "127.0.0.1",
        "port": 8123,
        "workers": 2,
        "log_level": "info",
    }
    key = local_key_path(get_settings()).read_text().strip()
    assert "docs at http://127.0.0.1:8123/docs" in result.output
    assert key in result.output.replace("\n", "")


def test_serve_never_prints_configured_keys(
    uvicorn_calls: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTLAKE_API_KEYS", "ci:configured-secret-123")
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert "1 from EVENTLAKE_API_KEYS" in result.output
    assert "configured-secret-123" not in result.output
    assert not local_key_path(get_settings()).exists()


def test_serve_refuses_malformed_keys(
    uvicorn_calls: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTLAKE_API_KEYS", "ci:")
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "EVENTLAKE_API_KEYS" in result.output
    assert uvicorn_calls == []
