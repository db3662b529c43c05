"""Metrics: JSON for people and dashboards, the Prometheus text format for scrapers."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.concurrency import run_in_threadpool

from eventlake import __version__
from eventlake.api.deps import ScraperDep, ServicesDep, SourceDep, StateDep
from eventlake.api.models import Metrics

router = APIRouter(tags=["metrics"])
open_router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_model=Metrics, summary="Totals, throughput, lag")
async def metrics(state: StateDep, services: ServicesDep, _source: SourceDep) -> Metrics:
    """Totals over every ingest job, throughput over the last minute, consumer lag per shard
    and the last lake commit."""
    figures = await run_in_threadpool(state.metrics)
    return Metrics(
        **figures,
        uptime_seconds=round(time.time() - services.started_at, 3),
        version=__version__,
    )


@open_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    summary="Prometheus metrics (no API key needed unless EVENTLAKE_API__METRICS_REQUIRE_KEY)",
)
async def prometheus_metrics(request: Request, _scraper: ScraperDep) -> Response:
    registry: CollectorRegistry = request.app.state.prometheus_registry
    text = await run_in_threadpool(generate_latest, registry)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
