"""GET /reports/dbt/... and /reports/quality/...: the dbt docs and the Data Docs, read-only.

The sites are files the pipeline writes under ``EVENTLAKE_HOME/reports``
(:mod:`eventlake.report_sites` says which files of them are served). They may not exist when
the API starts: each request looks for its file, so a site is 404 until its first run wrote
it and served from then on, with no restart.

They need an API key, unlike ``/docs`` and ``/metrics``: the API leaves open only what shows
nothing but counts, dependency states and its own schema, and these show the warehouse's
SQL, its tables' statistics and, in the Data Docs, sample values of the rows that failed an
expectation. A browser following a link cannot send ``X-API-Key``, so the key is also accepted
as the password of HTTP Basic authentication (any user name), which the browser asks for.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from eventlake.api.deps import ReaderDep, ServicesDep
from eventlake.api.models import ErrorBody
from eventlake.report_sites import ROUTE_PREFIX, SITES

router = APIRouter(prefix=ROUTE_PREFIX, tags=["reports"])

HEADERS = {
    # Rewritten by every run: a browser asks again rather than showing yesterday's report.
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # The sites are behind the API key: no other site may frame them (clickjacking), and the
    # report's URLs leak to no link they open. The Content-Security-Policy stops there: dbt's
    # docs run inline scripts and Great Expectations' Data Docs load their styles and scripts
    # from CDNs, so a policy on scripts would break them.
    "Content-Security-Policy": "frame-ancestors 'none'; base-uri 'self'; object-src 'none'; "
    "form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


SITE_FILE = "/{site}/{path:path}"


@router.get(
    SITE_FILE,
    response_class=FileResponse,
    responses={
        200: {"content": {"text/html": {}, "application/json": {}}, "description": "A file."},
        307: {"description": "A folder without its trailing slash."},
        401: {"model": ErrorBody, "description": "No valid API key."},
        404: {"model": ErrorBody, "description": "No such file (or not written yet)."},
    },
    summary="The dbt docs and the Data Docs",
)
async def report_file(
    site: Annotated[str, Path(description=f"One of: {', '.join(SITES)}.", examples=["dbt"])],
    path: Annotated[str, Path(description="A file of the site; empty for its index.html.")],
    services: ServicesDep,
    _reader: ReaderDep,
) -> Response:
    """A file of a report site: ``/reports/dbt/`` (dbt docs: ``eventlake transform``) or
    ``/reports/quality/`` (Great Expectations Data Docs: ``eventlake quality``). 404 until
    the run that writes the site has run once. Open the site in a browser: it asks for a user
    name (any) and a password (the API key)."""
    report_site = SITES.get(site)
    if report_site is None:
        raise HTTPException(status_code=404, detail=f"no report site {site!r}")
    # In the thread pool: it touches the file system.
    found = await run_in_threadpool(report_site.resolve, services.settings, path)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no such file in the {report_site.name}")
    if found.folder and path and not path.endswith("/"):
        # Its index.html's relative links need the trailing slash, as with any web server.
        return RedirectResponse(quote(f"{ROUTE_PREFIX}/{site}/{path}/"), status_code=307)
    return FileResponse(found.file, headers=HEADERS)


# HEAD as well (curl -I, link checkers), under its own name and not in the docs again.
router.add_api_route(
    SITE_FILE,
    report_file,
    methods=["HEAD"],
    response_class=FileResponse,
    include_in_schema=False,
)
