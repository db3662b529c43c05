"""The pipeline's health, as the dashboard shows it.

* live metrics from the API (``GET /api/v1/metrics``; the API at ``EVENTLAKE_API_URL``, with
  the key in ``EVENTLAKE_API_KEY`` or the local API's key file in the same home),
* recent jobs and the last transform and quality runs from the state database,
* the quality gate's JSON summary and where the dbt docs and the Data Docs are: their files,
  and their URLs on the API (``/reports/dbt/``, ``/reports/quality/``).

Nothing here writes: a state database that does not exist yet is reported as "no runs", not
created.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not in the environment
from sqlalchemy.engine import make_url

from eventlake.config import Settings
from eventlake.errors import EventlakeError
from eventlake.report_sites import SITES
from eventlake.state import StateStore

API_URL_ENV = "EVENTLAKE_API_URL"
# The key sent to the API (its /api/v1/metrics needs one), e.g. set by `eventlake run --serve`.
API_KEY_ENV = "EVENTLAKE_API_KEY"
DEFAULT_API_URL = "http://127.0.0.1:8000"
METRICS_PATH = "/api/v1/metrics"


class ApiUnavailableError(EventlakeError, RuntimeError):
    """The API did not answer, or not with metrics; the message says why, in one line."""


def api_url(environ: Mapping[str, str] = os.environ) -> str:
    return (environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")


def dashboard_api_key(settings: Settings, environ: Mapping[str, str] = os.environ) -> str | None:
    """The key the dashboard sends the API: ``EVENTLAKE_API_KEY``, else the key the local API
    generated in the same home (``HOME/api_key``, read, never created), else none."""
    from eventlake.api_keys import local_key_path

    if environ.get(API_KEY_ENV):
        return environ[API_KEY_ENV]
    try:
        return local_key_path(settings).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def fetch_api_metrics(
    base_url: str, *, timeout: float = 2.0, api_key: str | None = None
) -> dict[str, Any]:
    """The API's metrics, sending ``api_key`` (default: ``EVENTLAKE_API_KEY``) if there is one."""
    url = base_url.rstrip("/") + METRICS_PATH
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    headers = {"X-API-Key": key} if key else None
    try:
        response = httpx.get(url, timeout=timeout, headers=headers)
    except httpx.HTTPError as error:
        raise ApiUnavailableError(f"{url}: {type(error).__name__}: {error}") from error
    if response.status_code != 200:
        raise ApiUnavailableError(f"{url} answered {response.status_code}")
    try:
        metrics = response.json()
    except ValueError as error:
        raise ApiUnavailableError(f"{url} did not answer with JSON") from error
    if not isinstance(metrics, dict):
        raise ApiUnavailableError(f"{url} did not answer with a JSON object")
    return metrics


def lag_frame(metrics: Mapping[str, Any]) -> pd.DataFrame:
    rows = metrics.get("consumer_lag") or []
    columns = ["stream", "shard_id", "consumer", "position", "behind", "updated"]
    return pd.DataFrame(
        [{**row, "updated": _when(row.get("updated_at"))} for row in rows], columns=columns
    )


def _when(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _state_exists(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    database = parsed.database
    return database is not None and database not in ("", ":memory:") and Path(database).exists()


def read_state(settings: Settings, *, limit: int = 20) -> dict[str, Any] | None:
    """Recent jobs and the last runs (``last_runs`` as in /metrics), or None before any job."""
    url = settings.state_database_url
    if not _state_exists(url):
        return None
    state = StateStore(url)
    try:
        return {
            "recent_jobs": state.recent_jobs(limit=limit),
            "last_runs": state.metrics()["last_runs"],
        }
    finally:
        state.close()


JOB_COLUMNS = [
    "created",
    "kind",
    "name",
    "status",
    "received",
    "accepted",
    "rejected",
    "landed",
    "finished",
    "error",
    "job_id",
]


def jobs_frame(jobs: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                **{k: job.get(k) for k in JOB_COLUMNS},
                "created": _when(job.get("created_at")),
                "finished": _when(job.get("finished_at")),
            }
            for job in jobs
        ],
        columns=JOB_COLUMNS,
    )


def problems_frame(result: Mapping[str, Any]) -> pd.DataFrame:
    """The failed dbt nodes of a transform run's result: name, type, status, message."""
    columns = ["name", "type", "status", "failures", "message"]
    return pd.DataFrame(
        [{k: p.get(k) for k in columns} for p in result.get("problems") or []], columns=columns
    )


def quality_summary_path(settings: Settings) -> Path:
    # The same path as eventlake.quality.summary_path; not imported from there because that
    # package pulls in the lake and Great Expectations' sources, seconds of start-up.
    return settings.reports_dir / "quality" / "latest.json"


def read_quality_summary(settings: Settings) -> dict[str, Any] | None:
    """The last quality run's JSON summary (``eventlake quality``), or None before the first."""
    path = quality_summary_path(settings)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return summary if isinstance(summary, dict) else None


def quality_failures_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    columns = ["suite", "expectation", "column", "observed", "error"]
    return pd.DataFrame(
        [{k: f.get(k) for k in columns} for f in summary.get("failures") or []], columns=columns
    )


def quality_suites_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    columns = ["name", "success", "rows", "evaluated", "failed"]
    return pd.DataFrame(
        [{k: s.get(k) for k in columns} for s in summary.get("suites") or []], columns=columns
    )


def report_sites(settings: Settings) -> dict[str, Path]:
    """The report sites the pipeline writes, by name (dbt docs, Data Docs): their index.html.
    A site exists once its index.html does."""
    return {site.name: site.index(settings) for site in SITES.values()}


def report_site_urls(base_url: str | None = None) -> dict[str, str]:
    """Where the API serves the report sites, by the names of :func:`report_sites`:
    ``<API>/reports/dbt/`` and ``<API>/reports/quality/`` (the API at ``EVENTLAKE_API_URL``
    unless ``base_url`` is given). They ask for the API key: a browser asks for it as a
    password (any user name)."""
    base = api_url() if base_url is None else base_url
    return {site.name: site.url(base) for site in SITES.values()}
