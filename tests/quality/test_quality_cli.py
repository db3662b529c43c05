"""``eventlake quality`` and ``POST /api/v1/trigger/quality``: exit codes, Data Docs, the JSON
summary, the recorded run, the alert, over real warehouses and lakes built in the tests."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventlake import cli
from eventlake.cli import app
from eventlake.config import Settings, get_settings
from eventlake.state import StateStore
from tests.quality.conftest import FAILS, GHOST_USER_SK, Webhook, closed_port_url
from tests.test_cli import _flat

runner = CliRunner()


@pytest.fixture
def use_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Point the CLI (EVENTLAKE_* environment) at a prepared home."""

    # Wide enough that the table of failures shows each name on one line.
    monkeypatch.setattr(cli.console, "_width", 250)

    def use(settings: Settings, webhook_url: str | None = None) -> None:
        monkeypatch.setenv("EVENTLAKE_HOME", str(settings.home))
        if webhook_url:
            monkeypatch.setenv("EVENTLAKE_QUALITY__WEBHOOK_URL", webhook_url)
            # The test's webhook listens on loopback: allowed, as one inside a network is.
            monkeypatch.setenv("EVENTLAKE_QUALITY__WEBHOOK_ALLOW_PRIVATE", "true")
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def last_run(settings: Settings) -> dict[str, object]:
    state = StateStore(settings.state_database_url)
    try:
        run = state.last_run("quality")
    finally:
        state.close()
    assert run is not None
    return run


def test_a_passing_gate_exits_0_with_data_docs_and_a_recorded_run(
    good_home: Settings, use_home: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="eventlake.quality")
    use_home(good_home)  # type: ignore[operator]
    result = runner.invoke(app, ["quality"])
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert "quality gate passed" in text
    assert "staging.stg_events 4" in text
    index = good_home.reports_dir / "quality" / "data_docs" / "index.html"
    assert index.is_file()
    assert "fact_events" in index.read_text(encoding="utf-8")
    summary = json.loads((good_home.reports_dir / "quality" / "latest.json").read_text())
    assert (summary["success"], summary["failed"]) == (True, 0)
    run = last_run(good_home)
    assert run["status"] == "succeeded"
    assert run["detail"]["result"]["success"] is True  # type: ignore[index]
    assert any(r.levelno == logging.INFO and "passed" in r.getMessage() for r in caplog.records)


def test_a_failing_gate_exits_1_lists_the_failures_and_alerts(
    broken_home: Settings, use_home: object, webhook: Webhook
) -> None:
    use_home(broken_home, webhook.url)  # type: ignore[operator]
    result = runner.invoke(app, ["quality"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    text = _flat(result.output)
    assert "Failed expectations" in text
    assert f"quality gate failed: {len(FAILS)} of" in text
    for suite, expectation, _ in FAILS.values():
        assert suite in text
        assert expectation in text
    assert GHOST_USER_SK in text
    assert (broken_home.reports_dir / "quality" / "data_docs" / "index.html").is_file()

    summary = json.loads((broken_home.reports_dir / "quality" / "latest.json").read_text())
    assert summary["success"] is False
    run = last_run(broken_home)
    assert run["status"] == "failed"
    assert str(run["error"]).startswith("quality gate failed")
    failures = run["detail"]["result"]["failures"]  # type: ignore[index]
    assert {(f["suite"], f["expectation"], f["column"]) for f in failures} == set(FAILS.values())

    (body,) = webhook.received.bodies
    assert body["text"].startswith(f"eventlake quality gate failed: {len(FAILS)} of")
    listed = json.dumps(body["blocks"])
    for suite, _, _ in FAILS.values():
        assert suite in listed
    assert "data_docs/index.html" in listed


def test_a_webhook_that_is_down_changes_nothing_but_a_warning(
    broken_home: Settings, use_home: object, caplog: pytest.LogCaptureFixture
) -> None:
    url = closed_port_url()
    use_home(broken_home, url)  # type: ignore[operator]
    result = runner.invoke(app, ["quality"])
    assert result.exit_code == 1, result.output
    assert "Failed expectations" in _flat(result.output)
    assert last_run(broken_home)["status"] == "failed"
    assert "not delivered to the webhook on 127.0.0.1" in caplog.text
    assert "s3cr3t-token" not in caplog.text
    assert "s3cr3t-token" not in result.output


def test_no_warehouse_is_a_clear_error(tmp_path: Path, use_home: object) -> None:
    use_home(Settings(home=tmp_path / "empty"))  # type: ignore[operator]
    result = runner.invoke(app, ["quality"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "the quality gates could not run: no warehouse at" in _flat(result.output)
    run = last_run(Settings(home=tmp_path / "empty"))
    assert run["status"] == "failed"


def test_prod_without_snowflake_credentials_exits_1_naming_them(
    tmp_path: Path, use_home: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTLAKE_WAREHOUSE__TARGET", "prod")
    for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    use_home(Settings(home=tmp_path))  # type: ignore[operator]
    result = runner.invoke(app, ["quality"])
    assert result.exit_code == 1
    assert (
        "the prod target reads Snowflake: set SNOWFLAKE_ACCOUNT, SNOWFLAKE_PASSWORD, "
        "SNOWFLAKE_USER" in _flat(result.output)
    )


def test_the_api_triggers_the_gate_and_records_its_failures(broken_home: Settings) -> None:
    warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient", category=Warning)
    from fastapi.testclient import TestClient

    from eventlake.api.app import create_app
    from eventlake.api.auth import local_api_key
    from tests.api.test_trigger import wait_for_run

    with TestClient(create_app(broken_home)) as client:
        auth = {"X-API-Key": local_api_key(broken_home)}
        answer = client.post("/api/v1/trigger/quality", headers=auth)
        assert answer.status_code == 202, answer.text
        job = wait_for_run(client, auth, answer.json()["status_url"])
    assert (job["name"], job["status"]) == ("quality", "failed")
    assert job["error"].startswith("quality gate failed")
    assert len(job["result"]["failures"]) == len(FAILS)
