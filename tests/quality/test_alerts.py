"""Alerts: a log line always, a Slack-compatible POST on failure, a webhook that is down or
failing never changes the outcome, and the webhook URL (a secret) is never logged."""

from __future__ import annotations

import http.server
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eventlake.config import QualitySettings, Settings
from eventlake.quality import alerts
from eventlake.quality.report import ExpectationResult, QualityReport, SuiteResult
from tests.quality.conftest import Webhook, closed_port_url

SECRET = "s3cr3t-token"  # noqa: S105 — a fixture's fake secret


def report(tmp_path: Path, *, failing: bool) -> QualityReport:
    ok = ExpectationResult(
        "staging.stg_events", "expect_column_values_to_not_be_null", "event_id", True, "0 of 4"
    )
    bad = ExpectationResult(
        "marts.fact_events",
        "expect_column_values_to_be_between",
        "event_value",
        False,
        "1 of 4 rows (25.0%), e.g. -5.0",
    )
    orphan = ExpectationResult(
        "checks.referential_integrity",
        "expect_column_values_to_be_null",
        "orphan_user_sk",
        False,
        "1 of 4 rows (25.0%), e.g. 'abc'",
    )
    suites = (
        SuiteResult("staging.stg_events", 4, (ok,)),
        SuiteResult("marts.fact_events", 4, (bad,) if failing else ()),
        SuiteResult("checks.referential_integrity", 4, (orphan,) if failing else ()),
    )
    return QualityReport(
        suites=suites,
        started_at=datetime(2026, 11, 29, 12, tzinfo=UTC),
        seconds=1.5,
        warehouse="DuckDB /x/warehouse.duckdb",
        data_docs=tmp_path / "reports" / "quality" / "data_docs" / "index.html",
        summary_path=tmp_path / "reports" / "quality" / "latest.json",
    )


def settings_with(tmp_path: Path, url: str | None, *, allow_private: bool = True) -> Settings:
    """The tests' webhooks listen on loopback: allowed, as a webhook inside a network is."""
    quality = QualitySettings(webhook_url=url, webhook_allow_private=allow_private)
    return Settings(home=tmp_path, quality=quality)


def test_a_failure_is_posted_as_a_slack_message(
    tmp_path: Path, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="eventlake.quality")
    delivered = alerts.alert(report(tmp_path, failing=True), settings_with(tmp_path, webhook.url))
    assert delivered is True
    (body,) = webhook.received.bodies
    assert webhook.received.paths == ["/services/T000/B000/s3cr3t-token"]
    assert body["text"].startswith("eventlake quality gate failed: 2 of 3 expectations")
    assert "data_docs/index.html" in body["text"]
    types = [block["type"] for block in body["blocks"]]
    assert types == ["header", "section", "section", "section", "context"]
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    assert "*marts.fact_events* (4 rows)" in sections[1]
    assert "`event_value` expect_column_values_to_be_between: 1 of 4 rows" in sections[1]
    assert "*checks.referential_integrity*" in sections[2]
    assert "staging.stg_events" not in "".join(sections[1:]), "passing suites are not listed"
    context = body["blocks"][-1]["elements"][0]["text"]
    assert "Data Docs: file://" in context
    assert "latest.json" in context
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "event_value" in errors[0].getMessage()
    assert SECRET not in caplog.text
    assert "delivered to the webhook on 127.0.0.1" in caplog.text


def test_a_pass_is_logged_at_info_and_not_posted(
    tmp_path: Path, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="eventlake.quality")
    passed = report(tmp_path, failing=False)
    assert alerts.alert(passed, settings_with(tmp_path, webhook.url)) is None
    assert webhook.received.bodies == []
    (line,) = [r for r in caplog.records if r.name == "eventlake.quality.alerts"]
    assert line.levelno == logging.INFO
    assert "quality gate passed" in line.getMessage()


def test_no_webhook_configured_is_only_the_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert alerts.alert(report(tmp_path, failing=True), settings_with(tmp_path, None)) is None
    assert [r.levelno for r in caplog.records] == [logging.ERROR]


def test_a_webhook_that_is_down_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = closed_port_url()
    delivered = alerts.alert(report(tmp_path, failing=True), settings_with(tmp_path, url))
    assert delivered is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "not delivered to the webhook on 127.0.0.1: cannot connect" in warnings[0]
    assert SECRET not in caplog.text


def test_a_webhook_answering_500_is_a_warning(
    tmp_path: Path, failing_webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_with(tmp_path, failing_webhook.url)
    assert alerts.alert(report(tmp_path, failing=True), settings) is False
    assert len(failing_webhook.received.bodies) == 1
    assert "HTTP 500" in caplog.text
    assert SECRET not in caplog.text


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook/{SECRET}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_webhook_that_hangs_times_out_quickly(
    tmp_path: Path,
    silent_server: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(alerts, "WEBHOOK_TIMEOUT_SECONDS", 0.3)
    began = time.monotonic()
    settings = settings_with(tmp_path, silent_server)
    assert alerts.alert(report(tmp_path, failing=True), settings) is False
    assert time.monotonic() - began < 5
    assert "timed out after 0.3 s" in caplog.text
    assert SECRET not in caplog.text


def test_the_payload_stays_within_slack_limits(tmp_path: Path) -> None:
    many = tuple(
        SuiteResult(
            f"suite{i}",
            1,
            tuple(
                ExpectationResult(f"suite{i}", "expect_x", f"c{j}", False, "x" * 500)
                for j in range(30)
            ),
        )
        for i in range(60)
    )
    big = QualityReport(
        suites=many,
        started_at=datetime(2026, 11, 29, tzinfo=UTC),
        seconds=1.0,
        warehouse="w",
        data_docs=tmp_path / "index.html",
        summary_path=tmp_path / "latest.json",
    )
    payload = alerts.slack_payload(big)
    assert len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    assert "… and 20 more" in payload["blocks"][2]["text"]["text"]


def test_a_redirecting_webhook_is_not_followed_and_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{SECRET}"
        assert alerts.alert(report(tmp_path, failing=True), settings_with(tmp_path, url)) is False
    finally:
        server.shutdown()
        server.server_close()
    assert "HTTP 302" in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook/" + SECRET,  # the test's own live webhook
        "http://localhost:{port}/hook/" + SECRET,
        "http://169.254.169.254/latest/meta-data/" + SECRET,  # a cloud metadata endpoint
        "http://10.1.2.3/hook/" + SECRET,
        "http://[::1]:{port}/hook/" + SECRET,
        "http://0.0.0.0:{port}/hook/" + SECRET,
        "http://[::ffff:127.0.0.1]:{port}/hook/" + SECRET,
    ],
)
def test_a_webhook_on_an_internal_address_is_refused_by_default(
    tmp_path: Path, webhook: Webhook, caplog: pytest.LogCaptureFixture, url: str
) -> None:
    """A webhook URL must not make eventlake post inside its network (SSRF): refused before
    any connection, with a warning naming the host and the setting that allows it."""
    port = webhook.url.split(":")[2].split("/")[0]
    settings = settings_with(tmp_path, url.format(port=port), allow_private=False)
    began = time.monotonic()
    assert alerts.alert(report(tmp_path, failing=True), settings) is False
    assert time.monotonic() - began < 5  # refused, not timed out
    assert webhook.received.bodies == []  # the live one on loopback got nothing
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "not sent to the webhook" in warnings[0]
    assert "quality.webhook_allow_private" in warnings[0]
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.com/hook", "only http and https"),
        ("gopher://127.0.0.1:25/x", "only http and https"),
        ("http:///no-host", "names no host"),
        ("http://no-such-host.invalid/hook", "cannot resolve"),
    ],
)
def test_a_webhook_that_is_not_an_http_url_to_a_known_host_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, url: str, reason: str
) -> None:
    settings = settings_with(tmp_path, url, allow_private=False)
    assert alerts.alert(report(tmp_path, failing=True), settings) is False
    assert reason in caplog.text
