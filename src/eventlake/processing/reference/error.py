"""The reference's error for a body that cannot be read as a whole (``error.rs``)."""

from __future__ import annotations


class InputError(ValueError):
    """The body as a whole cannot be read; ``reason`` is one of ``unknown_format``,
    ``bad_gzip``, ``too_large``, ``bad_csv_header``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
