"""Shared dependencies, as ``Annotated`` aliases so route signatures read like types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from eventlake.api.auth import KeyRing
from eventlake.api.services import Services
from eventlake.state import StateStore

# auto_error=False: a missing key is answered by require_source, in the API's error shape.
# Both schemes are declared so that /docs offers them under "Authorize".
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
bearer = HTTPBearer(auto_error=False)


# The dependencies below are ``async`` although they never await: FastAPI runs a plain ``def``
# dependency in the thread pool, and a thread hop costs more than what they do.


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_state(services: ServicesDep) -> StateStore:
    # A plain def, so in the thread pool: the first call may open the database.
    return services.state()


StateDep = Annotated[StateStore, Depends(get_state)]


async def require_source(
    request: Request,
    x_api_key: Annotated[str | None, Depends(api_key_header)],
    authorization: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's source name, or 401."""
    key_ring: KeyRing = request.app.state.key_ring
    bearer_token = authorization.credentials if authorization is not None else None
    source = key_ring.identify(x_api_key or bearer_token)
    if source is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API key is required, as X-API-Key or Authorization: Bearer",
            headers={"WWW-Authenticate": 'Bearer realm="eventlake"'},
        )
    return source


SourceDep = Annotated[str, Depends(require_source)]
