"""The FastAPI application: a thin edge over :mod:`eventlake.ingest` and the state database.

Run it with ``eventlake serve`` (uvicorn, ``create_app`` as a factory, so ``--workers`` works).
Interactive docs at ``/docs``, the schema at ``/openapi.json``.

Authentication: every route under ``/api/v1`` needs an API key (``X-API-Key`` or
``Authorization: Bearer``) except ``/api/v1/health``; ``/metrics`` (Prometheus) is open too,
as scrapers and load balancers expect, unless ``api.metrics_require_key``. Neither shows
anything but counts and dependency states. The report sites under ``/reports`` (dbt docs,
Data Docs) show more (the warehouse's SQL, sample values of failing rows), so they need a key
too, which a browser may send as the password of HTTP Basic authentication
(:mod:`eventlake.api.routes.reports`). See
:mod:`eventlake.api.auth` for where keys come from, :mod:`eventlake.api.rate_limit` for the
optional limit per key.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from eventlake import __version__
from eventlake.api.auth import load_key_ring
from eventlake.api.errors import install_error_handlers
from eventlake.api.prometheus import build_registry
from eventlake.api.rate_limit import TokenBuckets
from eventlake.api.routes import api_router, root_router
from eventlake.api.services import Services, describe
from eventlake.config import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """Send batches of events, users and products; follow each batch to the lake.

Every route needs an API key (`X-API-Key` header or `Authorization: Bearer`) except
`/api/v1/health` and `/metrics`. The report sites (`/reports/dbt/`, `/reports/quality/`) also
take it as the password of HTTP Basic authentication, which a browser asks for.
Errors are `{"error": {"code", "message"}}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for ``settings`` (default: from the environment, ``EVENTLAKE_*``)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services(settings)
        app.state.services = services
        app.state.key_ring = await run_in_threadpool(load_key_ring, settings)
        limits = settings.api
        app.state.rate_limiter = (
            TokenBuckets(limits.rate_limit_per_second, limits.rate_limit_burst)
            if limits.rate_limit_per_second > 0
            else None
        )
        app.state.prometheus_registry = build_registry(lambda: services.state().metrics())
        # Opened now so that the first request does not pay for it. A dependency that is down
        # is only logged: the service starts, reports it on /health, and tries it again.
        warm_ups: list[Callable[[], object]] = [services.ingestor]
        warm_ups += [partial(services.streams.get, dataset) for dataset in services.datasets]
        for warm_up in warm_ups:
            try:
                await run_in_threadpool(warm_up)
            except Exception as error:
                log.warning("starting with a dependency down: %s", describe(error))
        try:
            yield
        finally:
            await run_in_threadpool(services.close)

    app = FastAPI(
        title="eventlake",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(root_router)
    return app
