"""The report sites the pipeline writes under ``EVENTLAKE_HOME/reports``, and which of their
files may be served.

* **dbt docs** (``reports/dbt``, written by ``eventlake transform``): that folder is dbt's
  target directory, so it also holds ``run_results.json``, compiled SQL and dbt's parse cache.
  Only the docs site is served: ``index.html`` (one self-contained page) and the two files it
  fetches, ``manifest.json`` and ``catalog.json``.
* **Data Docs** (``reports/quality/data_docs``, written by ``eventlake quality``): a Great
  Expectations site, served whole (``index.html``, ``static/``, ``validations/``, ...).

The API serves them at ``/reports/<slug>/`` (:mod:`eventlake.api.routes.reports`); the CLI and
the dashboard print those URLs. Kept free of heavy imports: the dashboard imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from eventlake.config import Settings

ROUTE_PREFIX = "/reports"
INDEX = "index.html"


class Found(NamedTuple):
    file: Path  # resolved: no symlink left in it
    folder: bool  # the request named a folder, and this is its index.html


@dataclass(frozen=True)
class ReportSite:
    name: str  # as people read it: "dbt docs"
    slug: str  # its URL: /reports/<slug>/
    parts: tuple[str, ...]  # its folder, under settings.reports_dir
    files: frozenset[str] | None = None  # the only files served (relative paths); None: all

    def directory(self, settings: Settings) -> Path:
        return settings.reports_dir.resolve().joinpath(*self.parts)

    def index(self, settings: Settings) -> Path:
        return self.directory(settings) / INDEX

    @property
    def route(self) -> str:
        return f"{ROUTE_PREFIX}/{self.slug}/"

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + self.route

    def resolve(self, settings: Settings, relative: str) -> Found | None:
        """The file to serve for ``relative`` (the URL path under the site, percent-decoded),
        or None: not there (yet), not one of the site's files, or outside the site's folder.

        A request never leaves the folder: ``..``, ``.`` and dot-files are refused outright;
        then the path is resolved (symlinks followed) and must still be inside the folder's
        own resolved path, so a symlink pointing out of it is not followed out. A folder
        stands for its ``index.html``, as a static web server does."""
        parts = [part for part in relative.split("/") if part]
        if any(part.startswith(".") or "\\" in part or "\x00" in part for part in parts):
            return None
        root = self.directory(settings)
        try:
            candidate = root.joinpath(*parts)
            folder = candidate.is_dir()
            if folder:
                candidate = candidate / INDEX
                parts.append(INDEX)
            if self.files is not None and "/".join(parts) not in self.files:
                return None
            real = candidate.resolve(strict=True)
            if not real.is_relative_to(root.resolve(strict=True)) or not real.is_file():
                return None
        except (OSError, ValueError):  # missing, a name too long, a loop of symlinks, ...
            return None
        return Found(real, folder)


DBT_DOCS = ReportSite(
    "dbt docs", "dbt", ("dbt",), frozenset({INDEX, "manifest.json", "catalog.json"})
)
DATA_DOCS = ReportSite("Data Docs", "quality", ("quality", "data_docs"))
SITES: dict[str, ReportSite] = {site.slug: site for site in (DBT_DOCS, DATA_DOCS)}
