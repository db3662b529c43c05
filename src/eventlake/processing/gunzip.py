"""The bounded gunzip of the Python side: the Rust core's (``input.rs``'s ``gunzip``), with a
Python error type.

The API (a ``Content-Encoding: gzip`` body) and the stream envelope (a record that travels
gzipped) decompress with it, each turning :class:`GunzipError` into its own error, so a body
is decompressed by the same code whether the API, the envelope or the core's own parser reads
it. (The pure-Python reference keeps a gunzip of its own: it is the oracle the core is tested
against, see ``reference/input.py``.)
"""

from __future__ import annotations

from typing import Literal

import data_processor_rs

GZIP_MAGIC = b"\x1f\x8b"


class GunzipError(ValueError):
    """``reason`` is ``bad_gzip`` (corrupt, truncated, or not gzip after a member) or
    ``too_large`` (more than the limit once decompressed)."""

    def __init__(self, reason: Literal["bad_gzip", "too_large"], message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip data (several members too, as ``gzip -c a b`` writes), stopping as soon
    as the output passes ``limit``: a small bomb never becomes a large buffer. Anything after
    a member must be another member (trailing garbage is ``bad_gzip``)."""
    if not data:
        # No bytes at all decompress to no bytes: an empty body sent with Content-Encoding
        # gzip is answered as an empty body (empty_body), not as a corrupt gzip stream, as it
        # always was. (The core says bad_gzip: it never gunzips a body without the magic.)
        return b""
    try:
        return data_processor_rs.gunzip(data, limit)
    except data_processor_rs.InputError as error:
        if error.reason == "too_large":
            # The API's 413 has always said this (clients and tests read "decompressed").
            message = f"the body is larger than {limit} bytes once decompressed"
            raise GunzipError("too_large", message) from None
        # The core's gunzip has no other reason: corrupt, truncated, or garbage after a member.
        raise GunzipError("bad_gzip", str(error)) from None
