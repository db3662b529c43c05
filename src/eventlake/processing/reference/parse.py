"""Parse: bytes → records (JSON array or object, NDJSON, CSV), or rejections (``parse/``)."""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eventlake.processing.reference.error import InputError
from eventlake.processing.reference.input import FORMATS, _body_text
from eventlake.processing.reference.json import (
    _TOO_DEEP,
    MAX_DEPTH,
    _end_without_ws,
    _has_unpaired_surrogate,
    _json_kind,
    _JsonReader,
    _MalformedError,
    _nesting_exceeds_limit,
    _skip_ws,
)
from eventlake.processing.reference.rejection import RAW_LIMIT, Rejection, _raw

DEFAULT_MAX_RECORD_BYTES = 1_048_576
DEFAULT_MAX_DECOMPRESSED_BYTES = 1 << 30
# Text decoded with errors="surrogateescape" holds U+DC80..U+DCFF exactly where the bytes were
# not UTF-8 (valid UTF-8 never decodes to a surrogate), so this finds invalid UTF-8.
_INVALID_UTF8_RE = re.compile("[\udc80-\udcff]")


@dataclass
class ParsedRecord:
    """A record that passed the parse checks.

    ``values`` is the decoded top-level JSON object, or for CSV header name -> cell text
    (``None`` for an empty cell). ``raw`` is the text reported if validation rejects it.
    """

    index: int
    line: int
    values: dict[str, Any]
    from_csv: bool
    raw: str


@dataclass
class ParsedBatch:
    format: str
    records: list[ParsedRecord]
    rejected: list[Rejection]


def _csv_cell(cell: str) -> str:
    if "," in cell or '"' in cell or "\n" in cell or "\r" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _csv_row_text(cells: list[str]) -> str:
    """A row re-encoded as CSV: cells holding , " CR or LF quoted, quotes doubled; a row of one
    empty cell is written ``""`` (it would read back as a blank line otherwise)."""
    if len(cells) == 1 and cells[0] == "":
        return '""'
    return ",".join(_csv_cell(cell) for cell in cells)


class _Parser:
    def __init__(self, max_record_bytes: int) -> None:
        self.max_record_bytes = max_record_bytes
        self.reader = _JsonReader()
        self.records: list[ParsedRecord] = []
        self.rejected: list[Rejection] = []

    def detect_format(self, text: str) -> str:
        start = _skip_ws(text, 0)
        first = text[start]
        if first == "[":
            return "json"
        if first == "{":
            try:
                _, end, _ = self.reader.decode_at(text, start)
            except _MalformedError:
                return "json"  # a malformed first value: one invalid_json record
            return "json" if _skip_ws(text, end) == len(text) else "ndjson"
        return "csv"

    # -- JSON records ---------------------------------------------------------------------

    def json_record(
        self, index: int, line: int, text: str, decoded: tuple[Any, str | None] | None
    ) -> None:
        """Run the per-record parse checks, in the spec's order, on one record's text.

        ``decoded`` is given when finding the record's extent already decoded it (array
        elements); otherwise the text is decoded here, after the size and UTF-8 checks.
        """
        data = text.encode("utf-8", "surrogateescape")
        valid_utf8 = _INVALID_UTF8_RE.search(text) is None
        raw = text if valid_utf8 and len(data) <= RAW_LIMIT else _raw(data)

        def reject(reason: str, message: str) -> None:
            self.rejected.append(Rejection(index, line, None, reason, message, raw))

        if len(data) > self.max_record_bytes:
            return reject(
                "too_large",
                f"the record is {len(data)} bytes, over the limit of {self.max_record_bytes}",
            )
        if not valid_utf8:
            return reject("invalid_utf8", "the record is not valid UTF-8")
        if decoded is None:
            try:
                decoded = self.reader.decode_all(text)
            except _MalformedError as exc:
                return reject("invalid_json", f"not valid JSON: {exc}")
        value, duplicate = decoded
        if value is _TOO_DEEP or _nesting_exceeds_limit(text):
            return reject("too_deep", f"the record nests deeper than {MAX_DEPTH} levels")
        if _has_unpaired_surrogate(text):
            return reject("invalid_json", "not valid JSON: an unpaired surrogate escape")
        if type(value) is not dict:
            return reject("not_an_object", f"expected a JSON object, got {_json_kind(value)}")
        if duplicate is not None:
            return reject("duplicate_key", f"the key {duplicate!r} appears more than once")
        self.records.append(ParsedRecord(index, line, value, False, raw))
        return None

    def rest_of_body(self, index: int, line: int, text: str, pos: int, message: str) -> None:
        """Everything from ``pos`` to the end of the body as one invalid_json record (raw text
        without trailing whitespace; no size or UTF-8 checks: nothing in it can be trusted)."""
        data = text[pos : _end_without_ws(text, pos)].encode("utf-8", "surrogateescape")
        self.rejected.append(Rejection(index, line, None, "invalid_json", message, _raw(data)))

    def parse_json(self, text: str) -> None:
        start = _skip_ws(text, 0)
        if text[start] != "[":
            # One record: the body without surrounding whitespace, at the line of its start.
            line = 1 + text.count("\n", 0, start)
            self.json_record(0, line, text[start : _end_without_ws(text, start)], None)
            return
        self.parse_array(text, start)

    def parse_array(self, text: str, start: int) -> None:
        n = len(text)
        counted_to, line = 0, 1  # lines counted incrementally: positions only grow

        def line_at(pos: int) -> int:
            nonlocal counted_to, line
            line += text.count("\n", counted_to, pos)
            counted_to = pos
            return line

        index = 0
        pos = _skip_ws(text, start + 1)
        if pos < n and text[pos] == "]":
            pos += 1
        else:
            while True:
                try:
                    value, end, duplicate = self.reader.decode_at(text, pos)
                except _MalformedError as exc:
                    message = (
                        "unterminated array"
                        if pos >= n
                        else f"malformed array element ({exc}); the rest of the body is rejected"
                    )
                    return self.rest_of_body(index, line_at(pos), text, pos, message)
                self.json_record(index, line_at(pos), text[pos:end], (value, duplicate))
                index += 1
                pos = _skip_ws(text, end)
                if pos < n and text[pos] == ",":
                    pos = _skip_ws(text, pos + 1)
                    continue
                if pos < n and text[pos] == "]":
                    pos += 1
                    break
                message = (
                    "unterminated array"
                    if pos >= n
                    else "expected ',' or ']' after an element; the rest of the body is rejected"
                )
                return self.rest_of_body(index, line_at(pos), text, pos, message)
        pos = _skip_ws(text, pos)
        if pos < n:
            self.rest_of_body(index, line_at(pos), text, pos, "unexpected text after the array")
        return None

    def parse_ndjson(self, text: str) -> None:
        index = 0
        for number, line in enumerate(text.split("\n"), start=1):
            if line.endswith("\r"):
                line = line[:-1]
            if not line.strip(" \t\r"):
                continue  # an empty or whitespace-only line is not a record
            self.json_record(index, number, line, None)
            index += 1

    # -- CSV ------------------------------------------------------------------------------

    def parse_csv(self, text: str) -> None:
        consumed: list[str] = []

        def physical_lines() -> Iterator[str]:
            # newline="" splits on \n, \r\n and \r and keeps the terminators.
            for physical in io.StringIO(text, newline=""):
                consumed.append(physical)
                yield physical

        try:
            old_limit = csv.field_size_limit(sys.maxsize)  # the default is 131,072 characters
        except OverflowError:  # pragma: no cover - platforms with a 32-bit C long
            old_limit = csv.field_size_limit(2**31 - 1)
        try:
            reader = csv.reader(physical_lines(), dialect="excel")
            header: list[str] | None = None
            lines_before = 0
            index = 0
            for cells in reader:
                # The reader never reads ahead: ``consumed`` is exactly this row's lines.
                line = lines_before + 1
                lines_before = reader.line_num
                row_text = "".join(consumed)
                consumed.clear()
                if not cells:
                    continue  # blank line
                if header is None:
                    header = self.csv_header(cells)
                    continue
                self.csv_record(index, line, header, cells, row_text)
                index += 1
        finally:
            csv.field_size_limit(old_limit)

    @staticmethod
    def csv_header(cells: list[str]) -> list[str]:
        for name in cells:
            if name == "":
                raise InputError("bad_csv_header", "the CSV header has an empty column name")
            if _INVALID_UTF8_RE.search(name):
                raise InputError("bad_csv_header", "the CSV header is not valid UTF-8")
        seen: set[str] = set()
        for name in cells:
            if name in seen:
                raise InputError("bad_csv_header", f"the CSV header repeats the column {name!r}")
            seen.add(name)
        return cells

    def csv_record(
        self, index: int, line: int, header: list[str], cells: list[str], row_text: str
    ) -> None:
        # A row's size is the total bytes of its cells (as read, quotes and separators aside).
        size = sum(len(cell.encode("utf-8", "surrogateescape")) for cell in cells)
        valid_utf8 = _INVALID_UTF8_RE.search(row_text) is None
        encoded = _csv_row_text(cells)
        if valid_utf8:
            data = encoded.encode("utf-8")
            raw = encoded if len(data) <= RAW_LIMIT else _raw(data)
        else:
            raw = _raw(encoded.encode("utf-8", "surrogateescape"))

        def reject(reason: str, message: str) -> None:
            self.rejected.append(Rejection(index, line, None, reason, message, raw))

        if size > self.max_record_bytes:
            return reject(
                "too_large", f"the row is {size} bytes, over the limit of {self.max_record_bytes}"
            )
        if not valid_utf8:
            return reject("invalid_utf8", "the row is not valid UTF-8")
        if len(cells) != len(header):
            return reject("ragged_row", f"the row has {len(cells)} cells, the header {len(header)}")
        values: dict[str, Any] = {
            name: (cell if cell != "" else None) for name, cell in zip(header, cells, strict=True)
        }
        self.records.append(ParsedRecord(index, line, values, True, raw))
        return None


def parse_events(
    data: bytes,
    format: str = "auto",
    *,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> ParsedBatch:
    """Split a body (JSON array or object, NDJSON, CSV; optionally gzipped) into records."""
    if format not in FORMATS:
        raise InputError("unknown_format", f"unknown format {format!r}; expected one of {FORMATS}")
    text = _body_text(data, max_decompressed_bytes)
    if _skip_ws(text, 0) == len(text):
        # Interpretation: an empty body read with format="auto" reports "ndjson".
        return ParsedBatch("ndjson" if format == "auto" else format, [], [])
    parser = _Parser(max_record_bytes)
    detected = parser.detect_format(text) if format == "auto" else format
    if detected == "csv":
        parser.parse_csv(text)
    elif detected == "ndjson":
        parser.parse_ndjson(text)
    else:
        parser.parse_json(text)
    parser.rejected.sort(key=lambda rejection: rejection.record_index)
    return ParsedBatch(detected, parser.records, parser.rejected)
