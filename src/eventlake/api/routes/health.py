"""GET /api/v1/health: liveness and readiness, with the state of each dependency."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from eventlake.api.deps import ServicesDep
from eventlake.api.models import ConsumerFault, Health, HealthCheck

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency failed: not ready."}},
    summary="Health (no API key needed)",
)
async def health(services: ServicesDep) -> JSONResponse:
    """200 when the stream, the catalog and the job database all answer, else 503 naming
    the one that failed. Open, so that load balancers and orchestrators need no key."""
    checks = await services.health()
    ready = all(check.ok for check in checks.values())
    failing = await services.consumer_faults() if checks["state"].ok else []
    report = Health(
        status="ok" if ready else "degraded",
        live=True,
        ready=ready,
        checks={
            name: HealthCheck(ok=check.ok, error=check.error, duration_ms=check.duration_ms)
            for name, check in checks.items()
        },
        consumers_failing=[ConsumerFault.model_validate(fault) for fault in failing],
    )
    return JSONResponse(report.model_dump(), status_code=200 if ready else 503)
