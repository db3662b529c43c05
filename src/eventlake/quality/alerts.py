"""Alerts: a log line for every run, and a Slack-compatible webhook POST when a gate fails.

The webhook URL is a secret (whoever has it can post to the channel): it is never logged, only
its host. A webhook that is down, slow or answers an error is logged as a warning and changes
nothing else: the gate's result stands and is stored whatever the webhook does.

A webhook whose host resolves to a private, loopback, link-local or reserved address is refused
unless ``quality.webhook_allow_private`` says otherwise: whoever can set the URL must not be able
to make eventlake post to internal services or a cloud metadata endpoint (server-side request
forgery). Redirects are never followed (httpx's default), so an allowed host cannot forward the
alert inward. The check resolves the host before the POST, and the POST resolves it again: a DNS
server that answers differently the second time (rebinding) is not caught.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from eventlake.config import Settings
from eventlake.quality.report import QualityReport

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5.0
# Slack's limits: 50 blocks a message, 3,000 characters a section's text.
MAX_SUITES_SHOWN = 10
MAX_FAILURES_PER_SUITE = 10
MAX_SECTION_CHARS = 2900
MAX_LINE_CHARS = 250  # one failure's line: ten of them and the suite's name fit in a section


def alert(
    report: QualityReport, settings: Settings, *, client: httpx.Client | None = None
) -> bool | None:
    """Log the outcome; POST a failure to the webhook. True/False: the webhook took it or not;
    None: nothing was sent (a pass, or no webhook configured)."""
    if report.success:
        log.info("%s; Data Docs: %s", report.headline, report.data_docs)
        return None
    listed = "; ".join(
        f"{f.suite} {f.column or ''} {f.expectation}: {f.observed}".replace("  ", " ")
        for f in report.failed[:20]
    )
    log.error("%s; Data Docs: %s; failed: %s", report.headline, report.data_docs, listed)
    url = settings.quality.webhook_url
    if not url:
        return None
    return post_webhook(
        url,
        slack_payload(report),
        client=client,
        allow_private=settings.quality.webhook_allow_private,
    )


def post_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    client: httpx.Client | None = None,
    allow_private: bool = False,
) -> bool:
    """POST ``payload`` as JSON; a failure is a warning naming the host, never the URL."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    refused = _refusal(parts.scheme, parts.hostname, allow_private)
    if refused is not None:
        log.warning("quality alert not sent to the webhook on %s: %s", host, refused)
        return False
    try:
        if client is None:
            with httpx.Client(timeout=WEBHOOK_TIMEOUT_SECONDS) as own:
                response = own.post(url, json=payload)
        else:
            response = client.post(url, json=payload, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        # The message of some httpx errors holds the URL: name the kind of error only.
        log.warning("quality alert not delivered to the webhook on %s: %s", host, _kind(exc))
        return False
    if response.is_success:
        log.info("quality alert delivered to the webhook on %s", host)
        return True
    log.warning(
        "quality alert not delivered to the webhook on %s: HTTP %s", host, response.status_code
    )
    return False


def _refusal(scheme: str, host: str | None, allow_private: bool) -> str | None:
    """Why the webhook must not be called (None: it may)."""
    if scheme not in ("http", "https"):
        return f"only http and https webhooks are called, not {scheme or 'no scheme'!r}"
    if not host:
        return "the URL names no host"
    if allow_private:
        return None
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError) as exc:
        return f"cannot resolve the host ({type(exc).__name__})"
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is not an address
        if not ip.is_global:
            return (
                f"it resolves to {ip}, a private, loopback, link-local or reserved address "
                "(set quality.webhook_allow_private to allow a webhook inside your network)"
            )
    return None


def _kind(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {WEBHOOK_TIMEOUT_SECONDS:g} s ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({type(exc).__name__})"
    return type(exc).__name__


def slack_payload(report: QualityReport) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` for notifications, ``blocks`` for the body."""
    failed_suites = [s for s in report.suites if not s.success]
    docs = report.data_docs.resolve().as_uri()
    text = f"eventlake {report.headline}. Data Docs: {docs}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "eventlake quality gate failed"},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"*{len(report.failed)}* of {report.evaluated} expectations failed in "
                    f"*{len(failed_suites)}* of {len(report.suites)} suites "
                    f"(warehouse: {report.warehouse})."
                ),
            },
        },
    ]
    for suite in failed_suites[:MAX_SUITES_SHOWN]:
        lines = [
            _clip(
                f"• `{f.column}` {f.expectation}: {f.observed}"
                if f.column
                else f"• {f.expectation}: {f.observed}",
                MAX_LINE_CHARS,
            )
            for f in suite.failed[:MAX_FAILURES_PER_SUITE]
        ]
        if len(suite.failed) > MAX_FAILURES_PER_SUITE:
            lines.append(f"… and {len(suite.failed) - MAX_FAILURES_PER_SUITE} more")
        body = f"*{suite.name}* ({suite.rows:,} rows)\n" + "\n".join(lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(body)}})
    if len(failed_suites) > MAX_SUITES_SHOWN:
        more = ", ".join(s.name for s in failed_suites[MAX_SUITES_SHOWN:])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(more)}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(f"Data Docs: {docs}\nSummary: {report.summary_path}"),
                }
            ],
        }
    )
    return {"text": text, "blocks": blocks}


def _clip(text: str, limit: int = MAX_SECTION_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
