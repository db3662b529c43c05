"""`eventlake dashboard` hands the process to `streamlit run` on the app, on loopback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventlake.cli import app


def test_the_command_runs_streamlit_on_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(os, "execv", lambda path, args: calls.append((path, list(args))))
    result = CliRunner().invoke(app, ["dashboard", "--port", "8599"])
    assert result.exit_code == 0, result.output
    [(path, args)] = calls
    assert path == sys.executable
    assert args[1:4] == ["-m", "streamlit", "run"]
    assert Path(args[4]).name == "app.py"
    assert Path(args[4]).is_file()
    flags = dict(zip(args[5::2], args[6::2], strict=True))
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--server.port"] == "8599"
    assert flags["--server.headless"] == "true"
    assert "http://127.0.0.1:8599" in result.output


def test_invalid_settings_are_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from eventlake.config import get_settings

    monkeypatch.setenv("EVENTLAKE_DEDUP_WINDOW", "-5")
    get_settings.cache_clear()
    monkeypatch.setattr(os, "execv", lambda *_: pytest.fail("streamlit must not start"))
    assert CliRunner().invoke(app, ["dashboard"]).exit_code == 2
