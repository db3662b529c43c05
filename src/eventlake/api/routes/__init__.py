"""The API's routes, one module per resource, assembled under /api/v1."""

from fastapi import APIRouter

from eventlake.api.routes import health, ingest, metrics, reports, status, trigger

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(ingest.router)
api_router.include_router(status.router)
api_router.include_router(trigger.router)
api_router.include_router(metrics.router)
api_router.include_router(health.router)

# Outside /api/v1: /metrics where scrapers expect it; /reports/... where a browser is sent.
root_router = APIRouter()
root_router.include_router(metrics.open_router)
root_router.include_router(reports.router)

__all__ = ["api_router", "root_router"]
