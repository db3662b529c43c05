"""GET /reports/dbt/... and /reports/quality/...: the report sites, read-only, behind the key,
never a byte from outside their folders."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from eventlake.config import Settings
from eventlake.report_sites import DATA_DOCS, DBT_DOCS

SECRET = "not for the web"  # noqa: S105 — a fixture's fake secret
INDEX_HTML = "<!doctype html><title>{}</title><a href='validations/v.html'>run</a>"


def write_dbt_docs(settings: Settings) -> Path:
    """dbt's target folder: the docs site and what else dbt leaves there."""
    target = settings.reports_dir / "dbt"
    (target / "compiled").mkdir(parents=True)
    (target / "index.html").write_text(INDEX_HTML.format("dbt docs"))
    (target / "manifest.json").write_text('{"nodes": {}}')
    (target / "catalog.json").write_text('{"nodes": {}}')
    (target / "run_results.json").write_text('{"results": []}')
    (target / "compiled" / "model.sql").write_text("select 1")
    return target


def write_data_docs(settings: Settings) -> Path:
    site = settings.reports_dir / "quality" / "data_docs"
    (site / "validations" / "events").mkdir(parents=True)
    (site / "static").mkdir()
    (site / "index.html").write_text(INDEX_HTML.format("Data Docs"))
    (site / "validations" / "events" / "run.html").write_text("<p>events: passed</p>")
    (site / "validations" / "events" / "index.html").write_text("<p>all runs</p>")
    (site / "static" / "style.css").write_text("body {}")
    (site / ".ge_store_backend_id").write_text("store-id")
    return site


@pytest.fixture
def secret(settings: Settings) -> Path:
    """A file next to the reports, as state.db and api_key are."""
    path = settings.home / "secret.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SECRET)
    state = settings.home / "state.db"
    if not state.exists():
        state.write_text(SECRET)
    return path


def test_a_site_is_404_until_written_then_served_without_a_restart(
    client: TestClient, settings: Settings, auth: dict[str, str]
) -> None:
    assert not settings.reports_dir.exists()
    for url in ("/reports/dbt/", "/reports/dbt/index.html", "/reports/quality/"):
        answer = client.get(url, headers=auth)
        assert answer.status_code == 404, url
        assert answer.json()["error"]["code"] == "not_found"

    write_dbt_docs(settings)
    write_data_docs(settings)

    answer = client.get("/reports/dbt/", headers=auth)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>dbt docs</title>" in answer.text
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["x-content-type-options"] == "nosniff"
    # The sites may not be framed by another site, and leak no URL to the links they open.
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cross-origin-opener-policy"] == "same-origin"
    assert client.get("/reports/dbt/index.html", headers=auth).text == answer.text
    manifest = client.get("/reports/dbt/manifest.json", headers=auth)
    assert manifest.status_code == 200
    assert manifest.headers["content-type"] == "application/json"
    assert manifest.json() == {"nodes": {}}
    assert client.get("/reports/dbt/catalog.json", headers=auth).status_code == 200

    answer = client.get("/reports/quality/", headers=auth)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Data Docs</title>" in answer.text
    run = client.get("/reports/quality/validations/events/run.html", headers=auth)
    assert run.text == "<p>events: passed</p>"
    css = client.get("/reports/quality/static/style.css", headers=auth)
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["x-frame-options"] == "DENY"  # every file of a site, not only pages


def test_folders_redirect_to_their_slash_and_serve_their_index(
    client: TestClient, settings: Settings, auth: dict[str, str]
) -> None:
    write_data_docs(settings)
    for url, to in (
        ("/reports/quality", "/reports/quality/"),
        ("/reports/quality/validations/events", "/reports/quality/validations/events/"),
    ):
        answer = client.get(url, headers=auth, follow_redirects=False)
        assert answer.status_code == 307, url
        assert answer.headers["location"].endswith(to)
    folder = client.get("/reports/quality/validations/events/", headers=auth)
    assert folder.text == "<p>all runs</p>"
    # A folder with no index.html is not listed.
    assert client.get("/reports/quality/validations/", headers=auth).status_code == 404


def test_only_the_dbt_docs_site_is_served_from_dbts_target_folder(
    client: TestClient, settings: Settings, auth: dict[str, str]
) -> None:
    write_dbt_docs(settings)
    for name in ("run_results.json", "compiled/model.sql", "compiled/", "graph.gpickle"):
        assert client.get(f"/reports/dbt/{name}", headers=auth).status_code == 404, name


def test_dot_files_and_unknown_sites_are_404(
    client: TestClient, settings: Settings, auth: dict[str, str]
) -> None:
    write_data_docs(settings)
    assert client.get("/reports/quality/.ge_store_backend_id", headers=auth).status_code == 404
    assert client.get("/reports/other/", headers=auth).status_code == 404
    assert client.get("/reports/", headers=auth).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        # %2e%2e reaches the app as "..", exactly as a raw "../" does from a client that sends
        # it as is (curl --path-as-is): uvicorn decodes, it does not normalise. (httpx would
        # normalise a literal "../" away before sending.)
        "/reports/dbt/%2e%2e/%2e%2e/state.db",
        "/reports/dbt/%2e%2e/%2e%2e/secret.txt",
        "/reports/dbt/..%2f..%2fsecret.txt",
        "/reports/dbt/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/reports/quality/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/reports/quality/validations/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/reports/quality/..%5c..%5c..%5csecret.txt",
        "/reports/quality/%2e/index.html",
        # Absolute paths: under the site, never the file system's root.
        "/reports/quality//etc/passwd",
        "/reports/quality/%2fetc%2fpasswd",
        "/reports/dbt//etc/passwd",
        "/reports/quality/%00secret.txt",
        "/reports/dbt/../../secret.txt",  # normalised by the client to /secret.txt: 404 too
    ],
)
def test_paths_never_leave_the_sites_folder(
    url: str, client: TestClient, settings: Settings, auth: dict[str, str], secret: Path
) -> None:
    write_dbt_docs(settings)
    write_data_docs(settings)
    answer = client.get(url, headers=auth, follow_redirects=False)
    assert answer.status_code == 404, (url, answer.status_code)
    assert SECRET not in answer.text
    assert "root:" not in answer.text


def test_a_symlink_out_of_the_folder_is_not_followed(
    client: TestClient, settings: Settings, auth: dict[str, str], secret: Path
) -> None:
    site = write_data_docs(settings)
    (site / "leak.txt").symlink_to(secret)
    (site / "home").symlink_to(settings.home, target_is_directory=True)
    (site / "validations" / "up").symlink_to(Path("..") / ".." / ".." / ".." / "secret.txt")
    # A symlink that stays inside the site is followed (its target is checked, not its name:
    # home/reports/quality/data_docs/index.html would be the site's own index.html).
    (site / "latest.html").symlink_to(site / "validations" / "events" / "run.html")
    for url in (
        "/reports/quality/leak.txt",
        "/reports/quality/home/secret.txt",
        "/reports/quality/validations/up",
    ):
        answer = client.get(url, headers=auth)
        assert answer.status_code == 404, url
        assert SECRET not in answer.text
    assert client.get("/reports/quality/latest.html", headers=auth).status_code == 200
    (site / "all.html").symlink_to(site / "validations" / "events" / "index.html")
    answer = client.get("/reports/quality/all.html", headers=auth, follow_redirects=False)
    assert answer.status_code == 200  # a file, though named index.html once resolved
    assert answer.text == "<p>all runs</p>"


def test_a_symlinked_dbt_docs_file_pointing_out_is_not_followed(
    client: TestClient, settings: Settings, auth: dict[str, str], secret: Path
) -> None:
    target = write_dbt_docs(settings)
    (target / "catalog.json").unlink()
    (target / "catalog.json").symlink_to(secret)
    assert client.get("/reports/dbt/catalog.json", headers=auth).status_code == 404


def test_get_and_head_only(client: TestClient, settings: Settings, auth: dict[str, str]) -> None:
    write_dbt_docs(settings)
    head = client.head("/reports/dbt/index.html", headers=auth)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(INDEX_HTML.format("dbt docs"))
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = client.request(method, "/reports/dbt/index.html", headers=auth)
        assert answer.status_code == 405, method
        assert answer.json()["error"]["code"] == "method_not_allowed"
        # Starlette names the methods of the first route on the path: GET (HEAD is a route of
        # its own, kept out of the OpenAPI document).
        assert "GET" in answer.headers["allow"]
    assert (settings.reports_dir / "dbt" / "index.html").read_text() == INDEX_HTML.format(
        "dbt docs"
    )


def test_a_key_is_needed_and_a_browser_is_asked_for_it(
    client: TestClient, settings: Settings, auth: dict[str, str]
) -> None:
    write_dbt_docs(settings)
    key = auth["X-API-Key"]
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        answer = client.get("/reports/dbt/", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith('Basic realm="eventlake reports"')
        assert SECRET not in answer.text
        assert key not in answer.text
    wrong = base64.b64encode(b"anyone:wrong").decode()
    assert (
        client.get("/reports/dbt/", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    )
    assert client.get("/reports/dbt/", headers={"Authorization": "Basic !!!"}).status_code == 401

    login = base64.b64encode(f"anyone:{key}".encode()).decode()
    for headers in (auth, {"Authorization": f"Bearer {key}"}, {"Authorization": f"Basic {login}"}):
        assert client.get("/reports/dbt/", headers=headers).status_code == 200, headers
    # The key opens the reports, not more: /api/v1 still takes it only as a header or bearer.
    metrics = client.get("/api/v1/metrics", headers={"Authorization": f"Basic {login}"})
    assert metrics.status_code == 401


def test_the_sites_urls_and_folders(settings: Settings) -> None:
    assert DBT_DOCS.url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/reports/dbt/"
    assert DATA_DOCS.url("http://api:1") == "http://api:1/reports/quality/"
    assert DATA_DOCS.directory(settings) == (
        settings.reports_dir.resolve() / "quality" / "data_docs"
    )
    long_name = "a" * (os.pathconf("/", "PC_NAME_MAX") + 10)
    assert DATA_DOCS.resolve(settings, long_name) is None  # an OSError is a 404, not a 500
