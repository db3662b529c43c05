"""A request's headers, read: the body's format (Content-Type) and encoding
(Content-Encoding, and the gunzip it calls for), the Idempotency-Key."""

from __future__ import annotations

from collections.abc import Mapping

from eventlake.ingest.errors import (
    BadBodyError,
    BadIdempotencyKeyError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from eventlake.processing.gunzip import GunzipError
from eventlake.processing.gunzip import gunzip as bounded_gunzip
from eventlake.stream.envelope import BodyFormat, Encoding

# Content types and the Rust core's format for each; parameters (charset) are checked apart.
MEDIA_TYPES: Mapping[str, BodyFormat] = {
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "text/csv": "csv",
}
CHARSETS = frozenset({"utf-8", "utf8", "us-ascii"})
MAX_IDEMPOTENCY_KEY_CHARS = 255


def body_format_of(content_type: str | None) -> BodyFormat:
    """The core's format for a Content-Type header; UnsupportedMediaTypeError otherwise."""
    supported = ", ".join(MEDIA_TYPES)
    if not content_type:
        raise UnsupportedMediaTypeError(f"a Content-Type is required: one of {supported}")
    media_type, *parameters = content_type.split(";")
    body_format = MEDIA_TYPES.get(media_type.strip().lower())
    if body_format is None:
        raise UnsupportedMediaTypeError(
            f"unsupported Content-Type {media_type.strip()[:100]!r}: send one of {supported}"
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in CHARSETS:
            raise UnsupportedMediaTypeError(f"unsupported charset {charset[:40]!r}: send UTF-8")
    return body_format


def content_encoding_of(content_encoding: str | None) -> Encoding:
    value = (content_encoding or "identity").strip().lower()
    if value in ("", "identity"):
        return "identity"
    if value in ("gzip", "x-gzip"):
        return "gzip"
    raise UnsupportedMediaTypeError(
        f"unsupported Content-Encoding {value[:40]!r}: send gzip or identity",
        code="unsupported_encoding",
    )


def check_idempotency_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS or not all(
        " " <= char <= "~" for char in key
    ):
        raise BadIdempotencyKeyError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters"
        )


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a gzip body with the size limit of a raw body (the one bounded gunzip,
    :func:`eventlake.processing.gunzip.gunzip`), with the API's errors."""
    try:
        return bounded_gunzip(data, limit)
    except GunzipError as error:
        if error.reason == "too_large":
            raise PayloadTooLargeError(error.message) from None
        raise BadBodyError(error.message, code="bad_gzip") from None
