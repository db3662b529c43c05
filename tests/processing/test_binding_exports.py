"""What the core exports for Python callers that handle bodies and dead letters themselves,
compared with what the Python code computes: the bounded gunzip (against the reference's own,
the oracle; processing/gunzip.py now wraps the core's), the dead-letter schemas and reason
codes (consumer, lake writer), and record extents (what ingest/event_ids.py fills ids from;
CSV rows compared with what Python's csv module reads)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import data_processor_rs as rs
import pytest

from eventlake.consumer.dead_letters import REJECTED_SCHEMA, whole_record_rejection
from eventlake.ingest import event_ids
from eventlake.lake.writer import dead_letter_rows
from eventlake.processing.reference.error import InputError as ReferenceInputError
from eventlake.processing.reference.input import _gunzip as py_gunzip

SRC = Path(__file__).resolve().parents[2] / "src" / "eventlake"

# --- gunzip -------------------------------------------------------------------------------

PAYLOAD = b'{"event_id":"e1","user_id":"u1"}\n' * 500


def py_outcome(data: bytes, limit: int) -> bytes | str:
    try:
        return py_gunzip(data, limit)
    except ReferenceInputError as error:
        return error.reason


def rs_outcome(data: bytes, limit: int) -> bytes | str:
    try:
        return rs.gunzip(data, limit)
    except rs.InputError as error:
        return error.reason  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize(
    ("name", "data", "limit"),
    [
        ("one member", gzip.compress(PAYLOAD), 1 << 20),
        ("two members", gzip.compress(PAYLOAD) + gzip.compress(b"more\n"), 1 << 20),
        ("exactly the limit", gzip.compress(PAYLOAD), len(PAYLOAD)),
        ("one byte over", gzip.compress(PAYLOAD), len(PAYLOAD) - 1),
        ("a bomb", gzip.compress(b"\0" * (8 << 20)), 1 << 20),
        ("truncated", gzip.compress(PAYLOAD)[:-12], 1 << 20),
        ("corrupt deflate", gzip.compress(PAYLOAD)[:20] + b"\xff" * 40, 1 << 20),
        ("bad checksum", gzip.compress(PAYLOAD)[:-8] + b"\0" * 8, 1 << 20),
        ("empty member", gzip.compress(b""), 10),
    ],
)
def test_gunzip_agrees_with_the_python_one(name: str, data: bytes, limit: int) -> None:
    assert rs_outcome(data, limit) == py_outcome(data, limit), name


def test_gunzip_raises_input_error_with_a_reason() -> None:
    with pytest.raises(rs.InputError) as raised:
        rs.gunzip(gzip.compress(PAYLOAD), 10)
    assert raised.value.reason == "too_large"  # type: ignore[attr-defined]
    assert isinstance(raised.value, ValueError)
    assert rs.gunzip(zlib.compress(b"x", wbits=31), 1) == b"x"


# --- dead letters -------------------------------------------------------------------------


def test_rejected_schema_is_the_one_python_builds() -> None:
    assert rs.rejected_schema().equals(REJECTED_SCHEMA, check_metadata=True)
    assert rs.rejected_schema().equals(rs.process(b"not json").rejected.schema)


def test_dead_letter_schema_is_what_the_lake_writer_builds() -> None:
    at = datetime(2026, 11, 3, tzinfo=UTC)
    rows = dead_letter_rows(
        whole_record_rejection("unreadable_body", "m", "raw"),
        dataset="events",
        job_id="j",
        source="s",
        at=at,
    )
    assert rs.dead_letter_schema().equals(rows.schema)


def test_every_reason_python_writes_is_a_core_reason() -> None:
    reasons = rs.dead_letter_reasons()
    assert len(reasons) == len(set(reasons))
    # The consumer's own whole-record reasons, as its sources spell them today.
    consumer = "\n".join(path.read_text() for path in sorted((SRC / "consumer").glob("*.py")))
    literals = re.findall(r'whole_record_rejection\(\s*"(\w+)"', consumer)
    literals += re.findall(r'getattr\(error, "reason", "(\w+)"\)', consumer)
    assert {"unreadable_record", "unreadable_body", "expired_in_stream"} <= set(literals)
    assert set(literals) <= set(reasons)
    # Every reason the core rejects a record or refuses a body for.
    bad = [
        b'[1, {"a": 1, "a": 2}, ' + b"[" * 200 + b"]" * 200 + b"]",
        b'{"event_id": 1}\n{"event_id": "e", "event_type": "nope"}\n\xff\n',
        b"event_id,user_id\n1\n",
    ]
    seen = {r for body in bad for r in rs.process(body).rejected.column("reason").to_pylist()}
    for body in (b"\x1f\x8b garbage", b"a,a\n1,2\n"):
        with pytest.raises(rs.InputError) as raised:
            rs.process(body)
        seen.add(raised.value.reason)  # type: ignore[attr-defined]
    assert len(seen) >= 7
    assert seen <= set(reasons)


# --- record extents -----------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"
KEY = "event_id"


def id_for(index: int) -> str:
    return f"id-{index}"


def missing(body: bytes, body_format: str) -> set[int]:
    parsed = rs.parse_events(body, body_format)  # type: ignore[arg-type]
    batch = rs.validate_schema(parsed)
    return event_ids.missing_key_records(batch.rejected, KEY)


EVENT = {"user_id": "u1", "event_type": "login", "event_timestamp": "2026-11-03T10:15:30Z"}
JSON_BODIES = [
    json.dumps([EVENT, {**EVENT, KEY: "e2"}, EVENT, {**EVENT, KEY: None}]).encode(),
    b"[\n  "
    + json.dumps(EVENT, indent=2).encode()
    + b" ,\n"
    + json.dumps(EVENT).encode()
    + b"\n]\n",
    BOM + json.dumps([EVENT, {"nested": {"a": [1, 2, {"b": "]"}]}, **EVENT}]).encode(),
    json.dumps([{**EVENT, "user_id": "ü ☃ 😀"}, EVENT], ensure_ascii=False).encode(),
    json.dumps([EVENT, EVENT]).encode()[:-40],  # a broken array: the core stops there too
    json.dumps(EVENT).encode(),
]
NDJSON_BODIES = [
    b"\n".join(json.dumps(e).encode() for e in [EVENT, {**EVENT, KEY: "e2"}, EVENT]),
    b"\n\n" + json.dumps(EVENT).encode() + b"\n   \n" + json.dumps(EVENT).encode() + b"\n",
    BOM + json.dumps(EVENT).encode() + b"\nnot json\n" + json.dumps(EVENT).encode(),
]


def python_records(body: bytes, body_format: str) -> list[object]:
    """The records as Python's json module reads them, independently of the core: the array's
    elements, or each non-blank NDJSON line (None for a line that is not JSON)."""
    text = body.removeprefix(BOM).decode()
    if body_format == "json":
        parsed = json.loads(text)
        return parsed if isinstance(parsed, list) else [parsed]
    records: list[object] = []
    for line in text.splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                records.append(None)
    return records


WELL_FORMED = [(body, "json") for body in JSON_BODIES if body != JSON_BODIES[4]] + [
    (body, "ndjson") for body in NDJSON_BODIES
]


@pytest.mark.parametrize(("body", "body_format"), WELL_FORMED)
def test_each_extent_holds_exactly_its_record(body: bytes, body_format: str) -> None:
    """event_ids rewrites the bytes of an extent: each one must be the whole record, and only
    it, at the index the core counts (checked against Python's own reading of the body)."""
    extents = rs.record_extents(body, body_format)  # type: ignore[arg-type]
    expected = python_records(body, body_format)
    assert len(extents) == len(expected)
    for (start, end), record in zip(extents, expected, strict=True):
        if record is not None:
            assert json.loads(body[start:end]) == record
    assert missing(body, body_format), "each body has records without an id"


@pytest.mark.parametrize(
    "body",
    [
        b"event_id,user_id\n,u1\ne2,u2\n\n,u3\n",
        BOM + b'user_id,event_type\r\nu1,login\r\n"u\n2","a,b"\r\n\r\nu3\r\n',
        b"a,b\n1,2\n3\n4,5,6\n",
    ],
)
def test_csv_extents_are_the_rows_event_ids_reads(body: bytes) -> None:
    """event_ids reads CSV rows with the csv module (empty lines are not records): each row
    is the text of the core's extent for the same record index."""
    text = body.removeprefix(BOM).decode()
    rows = [row for row in list(csv.reader(io.StringIO(text, newline="")))[1:] if row]
    extents = rs.record_extents(body, "csv")
    assert len(extents) == len(rows)
    for (start, end), row in zip(extents, rows, strict=True):
        cell_text = body[start:end].decode()
        assert next(csv.reader(io.StringIO(cell_text, newline=""))) == row


def test_extents_count_every_record_the_core_counts() -> None:
    for body in [*JSON_BODIES, *NDJSON_BODIES, b"a,b\n1\n2,3\n", b""]:
        assert len(rs.record_extents(body)) == rs.parse_events(body).num_received


def test_extents_of_a_gzipped_body_are_in_the_decompressed_body() -> None:
    body = NDJSON_BODIES[0]
    assert rs.record_extents(gzip.compress(body)) == rs.record_extents(body)
    with pytest.raises(rs.InputError):
        rs.record_extents(gzip.compress(body), max_decompressed_bytes=10)
    assert rs.record_extents(b"[]") == []
