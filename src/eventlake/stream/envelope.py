"""How an accepted request travels in a stream record: a small header, then the body.

The header says what the consumer needs to process the body exactly as the API validated it:
the dataset, the job, the source (API key name), the time received, and the body's format.
The body is kept as the client sent it (decompressed, with generated event ids filled in), so
the consumer's Rust core sees the same bytes and rejects the same records, and those
rejections land in the dead-letter table under the job. One record per request and shard,
like the Kinesis Producer Library's aggregation: a 500-event request costs at most one stream
record per shard, not 500 (see :mod:`eventlake.ingest.routing`); ``parts`` says how many.

Records written by anything else (or damaged) are not trusted: ``decode`` raises
EnvelopeError and the consumer sends the record to the dead-letter table.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, replace
from typing import Literal

from eventlake.errors import EventlakeError
from eventlake.processing.gunzip import GunzipError, gunzip

MAGIC = b"EL1\n"
MAX_HEADER_BYTES = 4096
# A stream record must stay under Kinesis's 1 MiB; 24 KiB is left for the header and key.
MAX_RECORD_BYTES = 1_048_576 - 24_576

Encoding = Literal["identity", "gzip"]
BodyFormat = Literal["json", "ndjson", "csv"]
FORMATS: tuple[BodyFormat, ...] = ("json", "ndjson", "csv")


class EnvelopeError(EventlakeError, ValueError):
    """A stream record that eventlake did not write, or that was damaged."""


@dataclass(frozen=True)
class Envelope:
    dataset: str
    job_id: str
    source: str
    received_at_us: int
    format: BodyFormat
    encoding: Encoding = "identity"
    # How many stream records (parts, one per shard) the request became; the consumer needs
    # it to tell when every part of the job is committed. Left out of the header when 1.
    parts: int = 1
    # A part a consumer forwarded to the shard that owns its events' keys (after a split):
    # the key its counts are recorded under (state.progress.forwarded_part_key). None for
    # the records the API publishes.
    forwarded_as: tuple[str, str] | None = None

    def header(self) -> dict[str, object]:
        header: dict[str, object] = {
            "dataset": self.dataset,
            "job_id": self.job_id,
            "source": self.source,
            "received_at_us": self.received_at_us,
            "format": self.format,
            "encoding": self.encoding,
        }
        if self.parts != 1:
            header["parts"] = self.parts
        if self.forwarded_as is not None:
            header["forwarded_as"] = list(self.forwarded_as)
        return header


def encode(envelope: Envelope, body: bytes) -> bytes:
    return Encoder(envelope).encode(body)


class Encoder:
    """The records of one envelope: the parts of one request share its header (only the
    encoding may differ between them), so it is JSON-encoded once per encoding, not once
    per part. The bytes are ``encode``'s, record for record."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self._prefixes: dict[Encoding, bytes] = {}

    def encode(self, body: bytes, encoding: Encoding | None = None) -> bytes:
        """The record of ``body``, in ``encoding`` (by default the envelope's)."""
        encoding = encoding or self.envelope.encoding
        prefix = self._prefixes.get(encoding)
        if prefix is None:
            envelope = self.envelope
            if encoding != envelope.encoding:
                envelope = replace(envelope, encoding=encoding)
            header = json.dumps(envelope.header(), separators=(",", ":")).encode()
            prefix = self._prefixes[encoding] = MAGIC + header + b"\n"
        if encoding == "gzip":
            body = gzip.compress(body, compresslevel=1)
        return prefix + body


def decode(data: bytes, *, max_body_bytes: int) -> tuple[Envelope, bytes]:
    """The header and the (decompressed) body, or EnvelopeError saying what is wrong."""
    if not data.startswith(MAGIC):
        raise EnvelopeError("not an eventlake record (no EL1 header)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise EnvelopeError("the header is unterminated or longer than 4 KiB")
    try:
        header = json.loads(data[len(MAGIC) : end])
        envelope = Envelope(
            dataset=_text(header, "dataset"),
            job_id=_text(header, "job_id"),
            source=_text(header, "source"),
            received_at_us=_int(header, "received_at_us"),
            format=_format(header),
            encoding=header.get("encoding", "identity"),
            parts=_parts(header),
            forwarded_as=_forwarded_as(header),
        )
    except (ValueError, TypeError, AttributeError) as error:
        raise EnvelopeError(f"unreadable header: {error}") from error
    body = data[end + 1 :]
    if envelope.encoding == "gzip":
        body = _gunzip(body, max_body_bytes)
    elif envelope.encoding != "identity":
        raise EnvelopeError(f"unknown encoding {envelope.encoding!r}")
    return envelope, body


def _text(header: dict[str, object], key: str) -> str:
    value = header[key]
    if not isinstance(value, str) or len(value) > 256:
        raise ValueError(f"{key} must be a string of at most 256 characters")
    return value


def _format(header: dict[str, object]) -> BodyFormat:
    value = header["format"]
    for known in FORMATS:
        if value == known:
            return known
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")


def _int(header: dict[str, object], key: str) -> int:
    value = header[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} must be an integer")
    return value


def _parts(header: dict[str, object]) -> int:
    value = header.get("parts", 1)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10_000:
        raise ValueError("parts must be an integer from 1 to 10000")
    return value


def _forwarded_as(header: dict[str, object]) -> tuple[str, str] | None:
    value = header.get("forwarded_as")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(item, str) and item for item in value)
        or len(value[0]) > 128  # job_parts' shard_id and sequence_number columns
        or len(value[1]) > 64
    ):
        raise ValueError("forwarded_as must be a shard id and a sequence, as strings")
    return value[0], value[1]


def _gunzip(body: bytes, limit: int) -> bytes:
    try:
        return gunzip(body, limit)
    except GunzipError as error:
        raise EnvelopeError(error.message) from error
