"""The body as a whole: the formats, gzip and the byte-order mark (``input.rs``)."""

from __future__ import annotations

from eventlake.processing.gunzip import GZIP_MAGIC, GunzipError, gunzip
from eventlake.processing.reference.error import InputError

FORMATS = ("auto", "json", "ndjson", "csv")


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a (multi-member) gzip stream, never producing more than ``limit`` bytes
    (the one bounded gunzip, :mod:`eventlake.processing.gunzip`)."""
    try:
        return gunzip(data, limit)
    except GunzipError as error:
        raise InputError(error.reason, error.message) from None


def _body_text(data: bytes, max_decompressed_bytes: int) -> str:
    """The body as text: gunzipped when it starts with the gzip magic, without a UTF-8 BOM;
    bytes that are not UTF-8 kept as surrogates (see ``parse._INVALID_UTF8_RE``)."""
    body = bytes(data)
    if body[:2] == GZIP_MAGIC:
        body = _gunzip(body, max_decompressed_bytes)
    text = body.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):  # the UTF-8 BOM EF BB BF
        text = text[1:]
    return text
