"""Generated ids for records sent without one, so that they are not rejected for it.

Only the records the Rust core rejected as missing the key (absent or null) are rewritten,
with Python's json module; every other JSON record is kept byte for byte (CSV rows are
written again by the csv module, with the same values), so the core rejects them exactly as
before, and the consumer, validating the rewritten body again, lands and rejects exactly what
the API reported. A body where every record has its id never comes
here (the caller checks the core's rejections first).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from eventlake.stream.envelope import BodyFormat

# Rejections of the key field that a generated id repairs.
MISSING_REASONS = ("missing", "null")
JSON_WHITESPACE = " \t\r\n"


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
    if body.startswith(b"\xef\xbb\xbf"):  # the core skips a UTF-8 BOM; so does the rewrite
        body = body[3:]
    if body_format == "ndjson":
        return _fill_ndjson(body, key, records, id_for)
    if body_format == "csv":
        return _fill_csv(body, key, records, id_for)
    return _fill_json(body, key, records, id_for)


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


def _fill_ndjson(body: bytes, key: str, records: set[int], id_for: Callable[[int], str]) -> bytes:
    lines = body.split(b"\n")
    index = 0
    for number, line in enumerate(lines):
        if not line.strip(b" \t\r\n"):
            continue  # blank lines are not records
        if index in records:
            filled = _with_id(line, key, id_for(index))
            if filled is not None:
                lines[number] = filled.encode("utf-8", "surrogatepass")
        index += 1
    return b"\n".join(lines)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _fill_json(
    body: bytes, key: str, records: set[int], id_for: Callable[[int], str]
) -> bytes | None:
    # surrogateescape keeps undecodable bytes as they were, for the core to reject again.
    text = body.decode("utf-8", "surrogateescape")
    start = len(text) - len(text.lstrip(JSON_WHITESPACE))
    if text[start : start + 1] != "[":  # one object: record 0 is the whole body
        filled = _with_id(text, key, id_for(0)) if 0 in records else None
        return None if filled is None else filled.encode("utf-8", "surrogateescape")
    # An array: find each element's extent and rewrite only the elements that need an id.
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    pieces: list[str] = []
    kept = 0  # text[:kept] is already in pieces
    position = start + 1
    index = 0
    while True:
        position = _skip_whitespace(text, position)
        try:
            _, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):
            break  # the core stops reading here too: the rest is one invalid record
        if index in records:
            filled = _with_id(text[position:end], key, id_for(index))
            if filled is not None:
                pieces += [text[kept:position], filled]
                kept = end
        index += 1
        position = _skip_whitespace(text, end)
        if text[position : position + 1] != ",":
            break
        position += 1
    pieces.append(text[kept:])
    return "".join(pieces).encode("utf-8", "surrogateescape")


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in JSON_WHITESPACE:
        position += 1
    return position


def _fill_csv(
    body: bytes, key: str, records: set[int], id_for: Callable[[int], str]
) -> bytes | None:
    text = body.decode("utf-8", "surrogateescape")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:  # e.g. a cell beyond the csv module's field size limit
        return None
    if not rows:
        return None
    header = rows[0]
    width = len(header)
    add_column = key not in header
    if add_column:
        header.append(key)
    index = 0
    for row in rows[1:]:
        if not row:
            continue  # an empty line, kept so that line numbers stay the same
        if index in records and len(row) == width:
            if add_column:
                row.append(id_for(index))
            else:
                row[header.index(key)] = id_for(index)
        elif add_column:
            row.append("")  # a ragged row stays exactly as ragged
        index += 1
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8", "surrogateescape")
