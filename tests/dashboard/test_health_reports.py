"""health: where the report sites are (files and URLs on the API), and the key sent for the
API's metrics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from eventlake.config import get_settings
from eventlake.dashboard import health


def test_report_sites_are_files_and_urls_by_the_same_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = get_settings()
    reports = settings.reports_dir.resolve()
    assert health.report_sites(settings) == {
        "dbt docs": reports / "dbt" / "index.html",
        "Data Docs": reports / "quality" / "data_docs" / "index.html",
    }
    monkeypatch.delenv(health.API_URL_ENV, raising=False)
    assert health.report_site_urls() == {
        "dbt docs": "http://127.0.0.1:8000/reports/dbt/",
        "Data Docs": "http://127.0.0.1:8000/reports/quality/",
    }
    monkeypatch.setenv(health.API_URL_ENV, "http://api.internal:9000/")
    assert health.report_site_urls()["Data Docs"] == "http://api.internal:9000/reports/quality/"
    assert health.report_site_urls("http://x:1")["dbt docs"] == "http://x:1/reports/dbt/"
    assert set(health.report_site_urls()) == set(health.report_sites(settings))


@pytest.mark.parametrize(
    ("env_key", "given", "sent"),
    [(None, None, None), ("from-env", None, "from-env"), ("from-env", "given", "given")],
)
def test_metrics_are_fetched_with_the_key(
    monkeypatch: pytest.MonkeyPatch, env_key: str | None, given: str | None, sent: str | None
) -> None:
    seen: list[Any] = []

    def get(url: str, **kwargs: Any) -> httpx.Response:
        seen.append(kwargs.get("headers"))
        return httpx.Response(200, json={"ok": True}, request=httpx.Request("GET", url))

    if env_key is None:
        monkeypatch.delenv(health.API_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(health.API_KEY_ENV, env_key)
    monkeypatch.setattr(httpx, "get", get)
    assert health.fetch_api_metrics("http://api", api_key=given) == {"ok": True}
    assert seen == [None if sent is None else {"X-API-Key": sent}]


def test_the_dashboard_uses_the_local_apis_key_unless_one_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from eventlake.api.auth import local_api_key, local_key_path

    settings = get_settings()
    monkeypatch.delenv(health.API_KEY_ENV, raising=False)
    assert health.dashboard_api_key(settings) is None
    assert not local_key_path(settings).exists()  # looking does not create it
    generated = local_api_key(settings)  # what `eventlake serve` does on a fresh home
    assert health.dashboard_api_key(settings) == generated
    monkeypatch.setenv(health.API_KEY_ENV, "configured")
    assert health.dashboard_api_key(settings) == "configured"
