"""Shared dependencies, as ``Annotated`` aliases so route signatures read like types."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from eventlake.api.auth import Keys
from eventlake.api.rate_limit import TokenBuckets
from eventlake.api.services import Services
from eventlake.state import StateStore

# auto_error=False: a missing key is answered by require_source, in the API's error shape.
# Both schemes are declared so that /docs offers them under "Authorize".
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
bearer = HTTPBearer(auto_error=False)
# Only for the report sites (/reports): a browser following a link cannot send a header, but
# it asks for a user name and password when told to (401 with WWW-Authenticate: Basic).
REPORTS_REALM = "eventlake reports"
basic = HTTPBasic(
    auto_error=False,
    realm=REPORTS_REALM,
    description="Report sites only: the API key as the password, any user name.",
)


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
    key_ring: Keys = request.app.state.key_ring
    bearer_token = authorization.credentials if authorization is not None else None
    source = key_ring.identify(x_api_key or bearer_token)
    if source is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API key is required, as X-API-Key or Authorization: Bearer",
            headers={"WWW-Authenticate": 'Bearer realm="eventlake"'},
        )
    limiter: TokenBuckets | None = request.app.state.rate_limiter
    if limiter is not None:
        wait = limiter.take(source)
        if wait is not None:
            raise HTTPException(
                status_code=429,
                detail=f"more than {limiter.per_second:g} requests a second with this API key "
                f"(bursts of {limiter.burst:g}); try again after Retry-After seconds",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
    return source


SourceDep = Annotated[str, Depends(require_source)]


async def require_reader(
    request: Request,
    x_api_key: Annotated[str | None, Depends(api_key_header)],
    authorization: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    login: Annotated[HTTPBasicCredentials | None, Depends(basic)],
) -> str:
    """The caller's source name, or 401 asking a browser for the key as a password. The same
    keys as :func:`require_source`, also accepted as HTTP Basic credentials."""
    key_ring: Keys = request.app.state.key_ring
    presented = [x_api_key, authorization.credentials if authorization else None]
    presented.append(login.password if login else None)
    for key in presented:
        source = key_ring.identify(key)
        if source is not None:
            return source
    raise HTTPException(
        status_code=401,
        detail="a valid API key is required, as X-API-Key, Authorization: Bearer, or the "
        "password of HTTP Basic authentication (any user name)",
        headers={"WWW-Authenticate": f'Basic realm="{REPORTS_REALM}", charset="UTF-8"'},
    )


ReaderDep = Annotated[str, Depends(require_reader)]


async def require_scraper(
    request: Request,
    services: ServicesDep,
    x_api_key: Annotated[str | None, Depends(api_key_header)],
    authorization: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    login: Annotated[HTTPBasicCredentials | None, Depends(basic)],
) -> str | None:
    """For /metrics: nothing unless ``api.metrics_require_key``; then a key as for the
    report sites (Prometheus sends one as basic_auth's password or a bearer token)."""
    if not services.settings.api.metrics_require_key:
        return None
    return await require_reader(request, x_api_key, authorization, login)


ScraperDep = Annotated[str | None, Depends(require_scraper)]
