"""Every error answer has one shape: ``{"error": {"code": ..., "message": ...}}``.

That covers the library's typed errors (:mod:`eventlake.ingest`), FastAPI's request
validation (422, with ``details``), unknown routes and methods (404, 405), the job database
out of reach or locked (503 with Retry-After) and anything unexpected (500, logged with its
traceback, answered without one).
"""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from eventlake.ingest import (
    DependencyUnavailableError,
    IdempotencyConflict,
    IngestError,
    NoValidRecordsError,
)
from eventlake.state import driver_message

log = logging.getLogger(__name__)

RETRY_AFTER_S = "5"


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status_code, headers=headers)


async def _ingest_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IngestError)  # noqa: S101 — narrows the type for mypy; holds by construction
    if isinstance(exc, NoValidRecordsError):
        body = {"error": {"code": exc.code, "message": exc.message}, **exc.answer}
        return JSONResponse(body, status_code=exc.status_code)
    headers = None
    if isinstance(exc, DependencyUnavailableError):
        # The operator's signal that a dependency is down (the access log shows only a 503).
        # The message is eventlake's own (which dependency, what it said), never the body.
        log.warning("503 %s: %s", exc.code, exc.message)
        headers = {"Retry-After": RETRY_AFTER_S}
    elif isinstance(exc, IdempotencyConflict) and exc.retry_after is not None:
        # In flight: when a retry could take the claim over should its owner have died (a
        # live owner usually answers sooner; the replay then comes at once). At least 1 s.
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return error_response(exc.status_code, exc.code, exc.message, headers)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101 — narrows the type for mypy; holds by construction
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 — narrows the type for mypy; holds by construction
    # Only where and what: the rejected input is not echoed back.
    details = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
        for error in exc.errors()
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return JSONResponse(
        error_body("invalid_request", f"{where}: {first['msg']}", details=details),
        status_code=422,
    )


async def _state_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The job database refused or did not answer (locked past the request's busy timeout,
    down) on a route with no answer of its own for that: 503, as the ingest route answers."""
    assert isinstance(exc, OperationalError)  # noqa: S101 — narrows the type for mypy; holds by construction
    reason = driver_message(exc)
    log.warning("503 state_unavailable on %s %s: %s", request.method, request.url.path, reason)
    return error_response(
        503,
        "state_unavailable",
        "the job database is not available; try again after Retry-After seconds",
        {"Retry-After": RETRY_AFTER_S},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; the server log has details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IngestError, _ingest_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _state_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)
