"""Generated ids for records sent without one, so that they are not rejected for it.

Only the records the Rust core rejected as missing the key (absent or null) are rewritten.
Where each record lies comes from the core itself (``data_processor_rs.record_extents``, the
parser's own record boundaries), so record N of the rewrite is always record N of the
rejections. Each of those records is rewritten in place, JSON ones with Python's json module
and CSV rows with the csv module (the same values); every other byte of the body is kept as
sent (a CSV body without the key column gets the column: one more cell on every row), so the
core rejects the other records exactly as before, and the consumer, validating the rewritten
body again, lands and rejects exactly what the API reported. A body where every record has
its id never comes here (the caller checks the core's rejections first).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable

import data_processor_rs
import pyarrow as pa
import pyarrow.compute as pc

from eventlake.processing.gunzip import GZIP_MAGIC
from eventlake.stream.envelope import BodyFormat

# Rejections of the key field that a generated id repairs.
MISSING_REASONS = ("missing", "null")
BOM = b"\xef\xbb\xbf"

# (start, end, text): body[start:end] becomes text.
Replacement = tuple[int, int, bytes]


def missing_key_records(rejected: pa.RecordBatch, key: str) -> set[int]:
    """Indexes of the records rejected only because ``key`` is absent or null. (Validation
    reports the first failing field in contract order, and the key comes first, so a record
    listed here may still fail on another field once it has an id.)"""
    mask = pc.and_(
        pc.equal(rejected.column("field"), key),
        pc.is_in(rejected.column("reason"), value_set=pa.array(MISSING_REASONS)),
    )
    indexes = pc.filter(rejected.column("record_index"), mask)
    return {int(index) for index in indexes.to_pylist()}


def generated_id(job_id: str, record_index: int) -> str:
    """The id given to record ``record_index`` of job ``job_id``: derived, not random, so that
    a batch published twice under one job (an idempotent retry whose first answer was lost)
    carries the same ids twice, and the consumer drops the copy as duplicates."""
    return uuid.uuid5(uuid.UUID(hex=job_id), str(record_index)).hex


def fill_ids(
    body: bytes,
    body_format: BodyFormat,
    key: str,
    records: set[int],
    id_for: Callable[[int], str],
) -> bytes | None:
    """``body`` with ``id_for(index)`` in ``key`` of each record in ``records`` (by record
    index, as the core counts them). None when the body cannot be rewritten (the records then
    stay rejected as missing their key)."""
    if body.startswith(GZIP_MAGIC):
        # The core would gunzip this (already decompressed) body once more, and its extents
        # would be offsets into that, not into ``body``.
        return None
    try:
        extents = data_processor_rs.record_extents(body, body_format)
    except data_processor_rs.InputError:
        return None  # cannot happen for a body the core has just validated; kept as sent
    if body_format == "csv":
        replacements = _csv_replacements(body, extents, key, records, id_for)
    else:
        replacements = _json_replacements(body, extents, key, records, id_for)
    if replacements is None:
        return None
    # Offsets count the byte-order mark; the core skips it, and so does the rewrite.
    return _splice(body, replacements).removeprefix(BOM)


def _splice(body: bytes, replacements: Iterable[Replacement]) -> bytes:
    """``body`` with each range replaced (in order, not overlapping); the rest as it was."""
    out = bytearray()
    kept = 0  # body[:kept] is already in out
    for start, end, text in replacements:
        out += body[kept:start]
        out += text
        kept = end
    out += body[kept:]
    return bytes(out)


def _with_id(record: str | bytes, key: str, value_id: str) -> str | None:
    """The record (a JSON object) with an id, compact; None if the json module disagrees."""
    try:
        value = json.loads(record)
        if not isinstance(value, dict):
            return None
        value[key] = value_id
        # allow_nan=False: a number too large for a float must stay out of range, not turn
        # into NaN/Infinity text.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (ValueError, RecursionError):
        return None


def _json_replacements(
    body: bytes,
    extents: list[tuple[int, int]],
    key: str,
    records: set[int],
    id_for: Callable[[int], str],
) -> list[Replacement]:
    """JSON and NDJSON: each record to fill (an array element, the one object of the body,
    an NDJSON line without its line end, so CRLF stays CRLF) becomes its rewrite."""
    replacements = []
    for index in sorted(records):
        if index >= len(extents):
            continue
        start, end = extents[index]
        filled = _with_id(body[start:end], key, id_for(index))
        if filled is not None:
            # surrogatepass: a lone surrogate escape the json module decoded goes back as it
            # came in (the core rejects such a record before it could be missing its key).
            replacements.append((start, end, filled.encode("utf-8", "surrogatepass")))
    return replacements


def _csv_replacements(
    body: bytes,
    extents: list[tuple[int, int]],
    key: str,
    records: set[int],
    id_for: Callable[[int], str],
) -> list[Replacement] | None:
    """CSV: the key's cell of each row to fill is set (the row written again by the csv
    module), or, without a key column, the column is added: to the header, with the id on
    each row to fill and an empty cell on every other (a ragged row stays as ragged)."""
    if not extents:
        return None
    content = len(BOM) if body.startswith(BOM) else 0
    # Before the first row there is only the header and line ends (blank lines are no rows).
    header_end = content + len(body[content : extents[0][0]].rstrip(b"\r\n"))
    header = _csv_row(body[content:header_end])
    if header is None:
        return None
    width = len(header)
    add_column = key not in header
    replacements: list[Replacement] = []
    if add_column:
        replacements.append((header_end, header_end, b"," + _csv_line([key])))
    for index, (start, end) in enumerate(extents):
        row: list[str] | None = None
        if index in records:
            row = _csv_row(body[start:end])
            if row is None:
                return None  # e.g. a cell beyond the csv module's field size limit
            if len(row) != width:
                row = None
        if add_column:
            cell = b"" if row is None else _csv_line([id_for(index)])
            replacements.append((end, end, b"," + cell))
        elif row is not None:
            row[header.index(key)] = id_for(index)
            replacements.append((start, end, _csv_line(row)))
    return replacements


def _csv_row(text: bytes) -> list[str] | None:
    """The cells of one CSV row (quoted line ends included); None if the csv module cannot
    read it or it is not UTF-8 (the core rejects such a row: it is never one to fill)."""
    try:
        rows = csv.reader(io.StringIO(text.decode("utf-8"), newline=""))
        return next((row for row in rows if row), None)
    except (csv.Error, UnicodeDecodeError):
        return None


def _csv_line(cells: list[str]) -> bytes:
    """Cells as CSV text, quoted where needed, without a line end."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue().encode("utf-8")
