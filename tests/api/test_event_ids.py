"""Filling missing event ids (ingest/event_ids.py) from the core's record extents, on the
bodies where finding a record's bytes is easy to get wrong: CRLF NDJSON, whitespace around one
object, a byte-order mark, CSV with quoted newlines, blank lines, records that are not objects.
Each filled body is read again by the real core: the records that missed their id now carry
``id-<index>``, every other record is byte for byte what was sent."""

from __future__ import annotations

import csv
import gzip
import io
import json

import data_processor_rs as rs
import pytest

from eventlake.ingest import event_ids
from eventlake.stream.envelope import BodyFormat

KEY = "event_id"
BOM = b"\xef\xbb\xbf"
EVENT = {"user_id": "u1", "event_type": "login", "event_timestamp": "2026-11-03T10:15:30Z"}
NO_ID = json.dumps(EVENT).encode()
WITH_ID = json.dumps({KEY: "e-1", **EVENT}).encode()
CSV_HEADER = b"user_id,event_type,event_timestamp"
CSV_ROW = b"u1,login,2026-11-03T10:15:30Z"


def id_for(index: int) -> str:
    return f"id-{index}"


def missing(body: bytes, body_format: BodyFormat) -> set[int]:
    batch = rs.validate_schema(rs.parse_events(body, body_format))
    return event_ids.missing_key_records(batch.rejected, KEY)


def records(body: bytes, body_format: BodyFormat) -> list[bytes]:
    return [body[start:end] for start, end in rs.record_extents(body, body_format)]


def fill(body: bytes, body_format: BodyFormat) -> tuple[bytes, set[int]]:
    todo = missing(body, body_format)
    assert todo, "each body has records without an id"
    filled = event_ids.fill_ids(body, body_format, KEY, todo, id_for)
    assert filled is not None
    assert missing(filled, body_format) == set(), "every record missing its id got one"
    return filled, todo


def check_json(body: bytes, body_format: BodyFormat) -> bytes:
    """Fill, then: same record count, the filled records carry their id, the others are
    unchanged bytes. Returns the filled body."""
    filled, todo = fill(body, body_format)
    before, after = records(body, body_format), records(filled, body_format)
    assert len(after) == len(before)
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        if index in todo:
            assert json.loads(new) == {**json.loads(old), KEY: id_for(index)}
        else:
            assert new == old
    return filled


def test_crlf_ndjson_keeps_its_line_ends() -> None:
    body = NO_ID + b"\r\n" + WITH_ID + b"\r\n" + NO_ID + b"\r\n"
    filled = check_json(body, "ndjson")
    assert filled.count(b"\r\n") == 3
    assert filled.split(b"\r\n")[1] == WITH_ID


def test_ndjson_blank_lines_and_lines_that_are_not_objects_are_not_counted_wrong() -> None:
    body = b"\n\n" + NO_ID + b"\n  \t\n[1, 2]\n" + b"  " + NO_ID + b"  \n\nnot json\n" + NO_ID
    filled = check_json(body, "ndjson")
    assert missing(body, "ndjson") == {0, 2, 4}
    assert b"\n[1, 2]\n" in filled
    assert b"\nnot json\n" in filled


def test_one_object_with_whitespace_around_it() -> None:
    body = b" \r\n\t" + json.dumps(EVENT, indent=2).encode() + b"\n\n "
    filled = check_json(body, "json")
    assert filled.startswith(b" \r\n\t{")
    assert filled.endswith(b"}\n\n ")
    assert json.loads(filled)[KEY] == id_for(0)


def test_array_elements_that_are_not_objects_keep_their_place() -> None:
    body = b"[1, " + NO_ID + b', "x", null, ' + WITH_ID + b",\n  " + NO_ID + b"]"
    filled = check_json(body, "json")
    assert missing(body, "json") == {1, 5}
    assert json.loads(filled)[:4] == [1, {**EVENT, KEY: id_for(1)}, "x", None]


@pytest.mark.parametrize("body_format", ["json", "ndjson"])
def test_a_byte_order_mark_shifts_nothing(body_format: BodyFormat) -> None:
    content = b"[" + NO_ID + b"," + NO_ID + b"]" if body_format == "json" else NO_ID + b"\n" + NO_ID
    filled = event_ids.fill_ids(BOM + content, body_format, KEY, {0, 1}, id_for)
    # The core skips the mark and so does the rewrite; the records are where they were.
    assert filled == event_ids.fill_ids(content, body_format, KEY, {0, 1}, id_for)
    assert filled is not None
    assert not filled.startswith(BOM)
    assert missing(filled, body_format) == set()


def test_a_broken_array_fills_what_comes_before_the_break() -> None:
    body = b"[" + NO_ID + b", " + NO_ID[:-10]
    filled, todo = fill(body, "json")
    assert todo == {0}
    assert filled.endswith(b", " + NO_ID[:-10])


def csv_rows(body: bytes) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(body.decode(), newline="")) if row]


def test_csv_without_the_key_column_gets_it_quoted_newlines_and_all() -> None:
    rows = [
        b'u1,"a\r\nlogin, really",2026-11-03T10:15:30Z',  # not in the enum: filled all the same
        b"",  # a blank line is no row
        CSV_ROW,
        b"u3,login",  # ragged: stays as ragged, one cell short
        b'"u\n4",login,2026-11-03T10:15:30Z',
    ]
    body = BOM + CSV_HEADER + b"\r\n" + b"\r\n".join(rows) + b"\r\n"
    filled, todo = fill(body, "csv")
    assert todo == {0, 1, 3}
    assert csv_rows(filled) == [
        ["user_id", "event_type", "event_timestamp", KEY],
        ["u1", "a\r\nlogin, really", "2026-11-03T10:15:30Z", id_for(0)],
        ["u1", "login", "2026-11-03T10:15:30Z", id_for(1)],
        ["u3", "login", ""],
        ["u\n4", "login", "2026-11-03T10:15:30Z", id_for(3)],
    ]
    # Line ends and the blank line stay (the core's line numbers stay right).
    assert filled.count(b"\r\n") == body.count(b"\r\n")


def test_csv_empty_key_cells_are_set_and_the_other_rows_are_kept() -> None:
    body = (
        b"event_id,user_id,event_type,event_timestamp\n"
        b'e-1,"u\n1",login,2026-11-03T10:15:30Z\n'
        b',"u,2",login,2026-11-03T10:15:30Z\n'
        b"\n"
        b",u3,login\n"
        b",u4,login,2026-11-03T10:15:30Z"
    )
    filled, todo = fill(body, "csv")
    assert todo == {1, 3}
    assert filled == body.replace(b',"u,2"', b'id-1,"u,2"').replace(b"\n,u4", b"\nid-3,u4")


def test_a_body_that_is_still_gzip_is_not_rewritten() -> None:
    # The core would gunzip it again: its records are not where fill_ids could write.
    body = gzip.compress(NO_ID + b"\n" + NO_ID)
    assert missing(body, "ndjson") == {0, 1}
    assert event_ids.fill_ids(body, "ndjson", KEY, {0, 1}, id_for) is None


def test_a_record_the_json_module_reads_differently_is_left_alone() -> None:
    # 1e400 is out of range for a float: json would write Infinity, so the record is kept.
    body = json.dumps({**EVENT, "event_value": 1}).encode().replace(b"1}", b"1e400}")
    assert event_ids.fill_ids(body, "json", KEY, {0}, id_for) == body
