"""POST /api/v1/ingest: a batch of records for one dataset, as JSON, NDJSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from eventlake.api.deps import ServicesDep, SourceDep
from eventlake.api.models import ErrorBody, IngestRejected
from eventlake.api.models import IngestAnswer as IngestAnswerModel
from eventlake.ingest import BadBodyError, IngestAnswer, PayloadTooLargeError, PreparedBatch

router = APIRouter(tags=["ingest"])

RECORD_EXAMPLE = {
    "event_id": "e-0001",
    "user_id": "u-42",
    "event_type": "purchase",
    "event_timestamp": "2026-11-01T12:00:00Z",
    "event_value": 19.99,
    "product_id": "p-7",
    "properties": {"currency": "EUR"},
}

# The body is read raw (see read_body), so FastAPI cannot infer its schema: documented here,
# which also lets schemathesis generate bodies of each content type.
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Records of the dataset. Content-Encoding: gzip is accepted.",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "object"},
                        {"type": "array", "items": {"type": "object"}},
                    ]
                },
                "example": [RECORD_EXAMPLE],
            },
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "One JSON object per line."},
            },
            "text/csv": {
                "schema": {"type": "string", "description": "A header row, then records."},
            },
        },
    }
}


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error(
        "Unreadable body: empty, corrupt gzip, unusable CSV header, a JSON array cut off "
        "before its ']' (truncated_body: nothing was published, send the whole body again), "
        "bad key."
    ),
    401: _error("No valid API key."),
    404: _error("Unknown dataset."),
    409: _error(
        "Idempotency-Key in use by a request in flight (with Retry-After: seconds until its "
        "claim could be taken over), or sent with another body (no Retry-After)."
    ),
    413: _error("The body (or, gzipped, its decompressed size) is over the limit."),
    415: _error("Unsupported Content-Type or Content-Encoding."),
    422: {"model": IngestRejected, "description": "No valid record; nothing was published."},
    503: _error("The stream or the job database is down; nothing was published."),
}


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit``: by its Content-Length before
    reading anything, or while reading a chunked body that declared none."""
    declared = request.headers.get("content-length")
    if declared is not None:
        # ASCII digits only: str.isdigit() is also true of "¹" or "٣", which int() refuses.
        if not (declared.isascii() and declared.isdigit()):
            raise BadBodyError("Content-Length is not a number", code="bad_content_length")
        if int(declared) > limit:
            raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
    # Kept as uvicorn's chunks and joined once (a body of one chunk is not copied at all):
    # growing a bytearray and copying it into bytes copied a 120 KB body about three times.
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away mid-body: nobody reads the answer, but the access log shows a
        # 400 for it, not an unexpected error's traceback and a 500.
        raise BadBodyError(
            "the client disconnected before the whole body arrived; nothing was published",
            code="client_disconnected",
        ) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


@router.post(
    "/ingest",
    status_code=202,
    response_model=IngestAnswerModel,
    responses=RESPONSES,
    openapi_extra=REQUEST_BODY,
    summary="Send a batch of records",
)
async def ingest(
    request: Request,
    services: ServicesDep,
    source: SourceDep,
    dataset: Annotated[
        str,
        Query(
            pattern=r"^[a-z][a-z0-9_]{0,63}$",
            description="The dataset, i.e. the data contract the records follow.",
            examples=["events"],
        ),
    ] = "events",
    content_encoding: Annotated[
        str | None, Header(description="gzip or identity (the default).")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Up to 255 printable ASCII characters. A retry with the same key and "
            "body gets the first answer back and publishes nothing."
        ),
    ] = None,
) -> JSONResponse:
    """Validate the records against the dataset's contract and publish the batch to the
    stream. 202 once the batch is durably in the stream, with the rejected records' reasons;
    the invalid records go to the dead-letter table under the job. Follow the job at
    ``status_url``."""
    body = await read_body(request, services.settings.api.max_body_bytes)
    content_type = request.headers.get("content-type")
    writer = services.writer()
    if idempotency_key is None:
        # Validating, cutting and encoding on the writer's worker threads (the core releases
        # the GIL there); publishing is the writer's, with the other requests waiting.
        prepared = await writer.prepare(
            lambda: services.ingestor().prepare(
                body,
                dataset=dataset,
                content_type=content_type,
                content_encoding=content_encoding,
                source=source,
            )
        )
        answer = await writer.publish(prepared)
    else:

        def publish(prepared: PreparedBatch) -> IngestAnswer:
            # From the worker thread that holds the key's claim, through the loop's writer.
            return anyio.from_thread.run(writer.publish, prepared)

        # In the thread pool: claiming the key and storing the answer block too.
        answer = await run_in_threadpool(
            lambda: services.ingestor().accept(
                body,
                dataset=dataset,
                content_type=content_type,
                content_encoding=content_encoding,
                source=source,
                idempotency_key=idempotency_key,
                publish=publish,
            )
        )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)
