"""The body as a whole: the formats, gzip and the byte-order mark (``input.rs``)."""

from __future__ import annotations

import zlib

from eventlake.processing.reference.error import InputError

FORMATS = ("auto", "json", "ndjson", "csv")
GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a (multi-member) gzip stream, never producing more than ``limit`` bytes.

    The reference keeps its own gunzip, in Python's zlib, on purpose: it is the oracle the
    core is tested against, so it must not call the core's (everything else on the Python
    side does, through :mod:`eventlake.processing.gunzip`)."""
    out = bytearray()
    rest = data
    while rest:
        decompressor = zlib.decompressobj(wbits=31)
        try:
            # Never 0 (which would mean "no limit"): out holds at most ``limit`` bytes here.
            out += decompressor.decompress(rest, limit + 1 - len(out))
        except zlib.error as error:
            raise InputError("bad_gzip", f"corrupt gzip body: {error}") from None
        if len(out) > limit:
            raise InputError(
                "too_large", f"the body is larger than {limit} bytes once decompressed"
            )
        if not decompressor.eof:
            # All the input was taken without reaching the member's end.
            raise InputError("bad_gzip", "truncated gzip body")
        # Anything after a member must be another gzip member (no padding).
        rest = decompressor.unused_data
    return bytes(out)


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
