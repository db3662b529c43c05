"""The one bounded gunzip on the Python side (the core's is ``input.rs``'s ``gunzip``).

The API (a ``Content-Encoding: gzip`` body), the stream envelope (a record that travels
gzipped) and the reference implementation all decompress with it, each turning
:class:`GunzipError` into its own error.
"""

from __future__ import annotations

import zlib
from typing import Literal

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
    as the output passes ``limit``: a small bomb never becomes a large buffer."""
    out = bytearray()
    rest = data
    while rest:
        decompressor = zlib.decompressobj(wbits=31)
        try:
            # Never 0 (which would mean "no limit"): out holds at most ``limit`` bytes here.
            out += decompressor.decompress(rest, limit + 1 - len(out))
        except zlib.error as error:
            raise GunzipError("bad_gzip", f"corrupt gzip body: {error}") from None
        if len(out) > limit:
            raise GunzipError(
                "too_large", f"the body is larger than {limit} bytes once decompressed"
            )
        if not decompressor.eof:
            # All the input was taken without reaching the member's end.
            raise GunzipError("bad_gzip", "truncated gzip body")
        # Interpretation: anything after a member must be another gzip member (no padding).
        rest = decompressor.unused_data
    return bytes(out)
