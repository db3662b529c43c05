"""The ingest library's errors: each carries the HTTP status and a stable code the edge (the
API) puts in its answer."""

from __future__ import annotations

from typing import Any

from eventlake.errors import EventlakeError


class IngestError(EventlakeError):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class UnknownDatasetError(IngestError):
    """The dataset has no contract. 404: the dataset is the resource written to."""

    status_code = 404
    code = "unknown_dataset"


class UnsupportedMediaTypeError(IngestError):
    status_code = 415
    code = "unsupported_media_type"


class PayloadTooLargeError(IngestError):
    status_code = 413
    code = "payload_too_large"


class BadBodyError(IngestError):
    """The body as a whole cannot be read: corrupt gzip, unusable CSV header, no records, a
    JSON array cut off before its ``]``."""

    status_code = 400
    code = "bad_body"


class BadIdempotencyKeyError(IngestError):
    status_code = 400
    code = "bad_idempotency_key"


class IdempotencyConflict(IngestError):  # noqa: N818 (named after the HTTP answer)
    """409 both while the first request is in flight and for a key reused with another body
    (some APIs answer 422 to the latter; one code is simpler for clients to handle)."""

    status_code = 409
    code = "idempotency_conflict"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        # In flight: seconds until a retry could take the claim over (Retry-After).
        self.retry_after = retry_after


class NoValidRecordsError(IngestError):
    """Every record was rejected: 422, with the reasons and the job that records it."""

    status_code = 422
    code = "no_valid_records"

    def __init__(self, message: str, answer: dict[str, Any]) -> None:
        super().__init__(message)
        self.answer = answer


class DependencyUnavailableError(IngestError):
    """The stream or the state database failed: 503, nothing was published, retry later."""

    transient = True
    status_code = 503
    code = "unavailable"
