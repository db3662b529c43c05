"""The pure-Python reference implementation of docs/processing.md.

This module is the oracle the Rust core (``data_processor_rs``) is tested against record for
record, and the baseline it is benchmarked against. It is written to be obviously correct:
the standard library (``json``, ``csv``, ``zlib``, ``re``) with plain dicts and lists, and
pyarrow only for the final conversion to Arrow. Every rule of the spec is implemented here in
the order the spec states it; where the spec leaves a choice open, the choice is written next
to the code (``Interpretation:``) so the Rust side can follow it.

    batch = parse_events(body)                      # ParsedBatch
    valid = validate_schema(batch, contract)        # ValidatedBatch
    rows = transform_batch(valid, job_id="j1")      # TransformedBatch
    rows = deduplicate(rows)                        # or Deduplicator(capacity).deduplicate(rows)
    table = to_arrow(rows)                          # pyarrow.RecordBatch
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
import time
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from eventlake.contracts import ContractSpec, FieldSpec

__all__ = [
    "Deduplicator",
    "InputError",
    "ParsedBatch",
    "ParsedRecord",
    "Rejection",
    "TransformedBatch",
    "ValidatedBatch",
    "arrow_schema",
    "deduplicate",
    "parse_events",
    "process",
    "rejected_schema",
    "rejected_to_arrow",
    "to_arrow",
    "transform_batch",
    "validate_schema",
]

FORMATS = ("auto", "json", "ndjson", "csv")
DEFAULT_MAX_RECORD_BYTES = 1_048_576
DEFAULT_MAX_DECOMPRESSED_BYTES = 1 << 30
MAX_DEPTH = 64
RAW_LIMIT = 65_536
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MIN_TIMESTAMP_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
MAX_TIMESTAMP_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
EPOCH_MS_THRESHOLD = 100_000_000_000  # |n| >= this is epoch milliseconds, below it seconds
MICROS_PER_DAY = 86_400_000_000

_JSON_WS = " \t\n\r"
_WS_RE = re.compile(r"[ \t\n\r]*")
# Text decoded with errors="surrogateescape" holds U+DC80..U+DCFF exactly where the bytes were
# not UTF-8 (valid UTF-8 never decodes to a surrogate), so this finds invalid UTF-8.
_INVALID_UTF8_RE = re.compile("[\udc80-\udcff]")
_ESCAPE_RE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
# The iterative JSON checker's tokens (RFC 8259; the same language as Python's json module in
# strict mode, without NaN/Infinity).
_STRING_RE = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")

_CSV_INT_RE = re.compile(r"-?[0-9]+")
_CSV_DECIMAL_RE = re.compile(r"-?[0-9]+\.[0-9]+")
_CSV_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ISO_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")

# Interpretation: "ASCII whitespace" is space, tab, LF, FF, CR (WHATWG; Rust's
# u8::is_ascii_whitespace); vertical tab is not whitespace. Lowercasing maps A-Z only.
_ASCII_WS = " \t\n\x0c\r"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


# --------------------------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True)
class Rejection:
    """One rejected record (docs/processing.md, *Rejected records*)."""

    record_index: int
    line: int
    field: str | None
    reason: str
    message: str
    raw: str


class InputError(ValueError):
    """The body as a whole cannot be read; ``reason`` is one of ``unknown_format``,
    ``bad_gzip``, ``too_large``, ``bad_csv_header``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


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


@dataclass
class ValidatedBatch:
    """Typed rows (str, int, float, bool, timestamp as int µs UTC, date as int days since
    1970-01-01, json as JSON text, None for null), in input order; rejections by index."""

    contract: ContractSpec
    rows: list[dict[str, Any]]
    rejected: list[Rejection]


@dataclass
class TransformedBatch:
    contract: ContractSpec
    rows: list[dict[str, Any]]
    rejected: list[Rejection]
    num_duplicates: int = 0


# --------------------------------------------------------------------------------------------
# Parse


class _MalformedError(ValueError):
    """Not valid JSON syntax."""


class _LiteralNumber(float):
    """A JSON number that a float or a Python int cannot hold (``1e400``, or an integer with
    more digits than ``sys.get_int_max_str_digits()``). Its float value is +-inf; ``text``
    keeps the literal so a json-typed field can store it as sent."""

    text: str
    is_int: bool

    def __new__(cls, text: str, is_int: bool) -> _LiteralNumber:
        self = super().__new__(cls, float(text))
        self.text = text
        self.is_int = is_int
        return self


class _TooDeep:
    """Marks a value nested too deeply for the recursive json decoder (its extent is known)."""


_TOO_DEEP = _TooDeep()


def _reject_constant(name: str) -> Any:
    raise _MalformedError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else _LiteralNumber(text, is_int=False)


def _parse_int_any_size(text: str) -> int | float:
    limit = sys.get_int_max_str_digits()
    if limit and len(text.lstrip("-")) > limit:
        return _LiteralNumber(text, is_int=True)
    return int(text)


def _skip_ws(text: str, pos: int) -> int:
    match = _WS_RE.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _end_without_ws(text: str, start: int) -> int:
    end = len(text)
    while end > start and text[end - 1] in _JSON_WS:
        end -= 1
    return end


def _raw(data: bytes) -> str:
    """Cut to RAW_LIMIT bytes, replace invalid UTF-8, cut again at a character boundary."""
    text = data[:RAW_LIMIT].decode("utf-8", "replace")
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) > RAW_LIMIT:
        text = encoded[:RAW_LIMIT].decode("utf-8", "ignore")
    return text


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _expect_key(text: str, pos: int) -> int:
    """After ``{`` or ``,`` in an object: a string key, then ``:``; returns the position after."""
    pos = _skip_ws(text, pos)
    match = _STRING_RE.match(text, pos)
    if match is None:
        raise _MalformedError(f"expected an object key at character {pos}")
    pos = _skip_ws(text, match.end())
    if pos >= len(text) or text[pos] != ":":
        raise _MalformedError(f"expected ':' at character {pos}")
    return pos + 1


def _scan_json_value(text: str, pos: int) -> tuple[int, int]:
    """Check, without recursion, the JSON value that starts at ``pos``.

    Returns (end, depth): the position after the value and its nesting depth (objects and
    arrays; a scalar is 0). Raises ``_MalformedError``. Used where the recursive decoder
    cannot go (very deep values) and to measure the depth of values with many brackets.
    """
    closers: list[str] = []
    depth = 0
    n = len(text)
    while True:
        # A value is expected at pos.
        pos = _skip_ws(text, pos)
        if pos >= n:
            raise _MalformedError("unexpected end of the value")
        char = text[pos]
        if char == "{" or char == "[":
            closers.append("}" if char == "{" else "]")
            depth = max(depth, len(closers))
            pos = _skip_ws(text, pos + 1)
            if pos < n and text[pos] == closers[-1]:
                closers.pop()
                pos += 1
            elif char == "{":
                pos = _expect_key(text, pos)
                continue
            else:
                continue
        elif char == '"':
            match = _STRING_RE.match(text, pos)
            if match is None:
                raise _MalformedError(f"invalid string at character {pos}")
            pos = match.end()
        elif text.startswith("true", pos):
            pos += 4
        elif text.startswith("false", pos):
            pos += 5
        elif text.startswith("null", pos):
            pos += 4
        else:
            match = _NUMBER_RE.match(text, pos)
            if match is None:
                raise _MalformedError(f"expected a value at character {pos}")
            pos = match.end()
        # A value has ended: close containers, or go on to the next member.
        while True:
            if not closers:
                return pos, depth
            pos = _skip_ws(text, pos)
            if pos >= n:
                raise _MalformedError("unexpected end inside an array or object")
            char = text[pos]
            if char == closers[-1]:
                closers.pop()
                pos += 1
                continue
            if char != ",":
                raise _MalformedError(f"expected ',' or {closers[-1]!r} at character {pos}")
            pos += 1
            if closers[-1] == "}":
                pos = _expect_key(text, pos)
            break


def _nesting_exceeds_limit(text: str) -> bool:
    """Whether the (valid) JSON value in ``text`` nests objects/arrays deeper than MAX_DEPTH."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    _, depth = _scan_json_value(text, _skip_ws(text, 0))
    return depth > MAX_DEPTH


def _has_unpaired_surrogate(text: str) -> bool:
    r"""Whether the (valid) JSON text has a ``\uD800``-``\uDFFF`` escape that is not a high
    surrogate escape immediately followed by a low surrogate escape. In valid JSON a backslash
    only occurs inside strings, so scanning escapes left to right is exact."""
    if "\\u" not in text:
        return False
    high_end = -1  # end of a high-surrogate escape still waiting for its low half
    for match in _ESCAPE_RE.finditer(text):
        digits = match.group(1)
        code = int(digits, 16) if digits is not None else -1
        if high_end >= 0:
            if match.start() == high_end and 0xDC00 <= code <= 0xDFFF:
                high_end = -1
                continue
            return True
        if 0xD800 <= code <= 0xDBFF:
            high_end = match.end()
        elif 0xDC00 <= code <= 0xDFFF:
            return True
    return high_end >= 0


class _JsonReader:
    """json.JSONDecoder set up for the spec: NaN/Infinity rejected, top-level duplicate keys
    noticed, number literals a float cannot hold kept as text."""

    def __init__(self) -> None:
        self.duplicate: str | None = None
        self._decoder = json.JSONDecoder(
            object_pairs_hook=self._object,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
        )
        # Only tried when the first decoder fails: integers longer than Python's int
        # conversion limit are valid JSON.
        self._any_int_decoder = json.JSONDecoder(
            object_pairs_hook=self._object,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int_any_size,
        )

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # Nested objects: the last of duplicate keys wins. The hook runs for the outermost
        # object last, so after a decode ``duplicate`` describes the top-level object.
        obj = dict(pairs)
        self.duplicate = None
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.duplicate = key
                    break
                seen.add(key)
        return obj

    def decode_at(self, text: str, pos: int) -> tuple[Any, int, str | None]:
        """Decode the value starting exactly at ``pos``: (value, end, duplicate top-level key).

        value is ``_TOO_DEEP`` when the value is valid but nested beyond what the recursive
        decoder can do. Raises ``_MalformedError``.
        """
        error: Exception | None = None
        for decoder in (self._decoder, self._any_int_decoder):
            self.duplicate = None
            try:
                value, end = decoder.raw_decode(text, pos)
            except RecursionError:
                end, depth = _scan_json_value(text, pos)
                if depth <= MAX_DEPTH:  # the Python stack was already nearly exhausted
                    raise
                return _TOO_DEEP, end, None
            except ValueError as exc:
                error = exc
                continue
            return value, end, self.duplicate
        raise _MalformedError(str(error))

    def decode_all(self, text: str) -> tuple[Any, str | None]:
        """Decode a text that must be exactly one value, with JSON whitespace around it."""
        value, end, duplicate = self.decode_at(text, _skip_ws(text, 0))
        if _skip_ws(text, end) != len(text):
            raise _MalformedError(f"unexpected characters after the value at character {end}")
        return value, duplicate


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a (multi-member) gzip stream, never producing more than ``limit`` bytes."""
    out = bytearray()
    rest = data
    while rest:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        while True:
            try:
                chunk = member.decompress(pending, limit + 1 - len(out))
            except zlib.error as exc:
                raise InputError("bad_gzip", f"corrupt gzip stream: {exc}") from None
            out += chunk
            if len(out) > limit:
                raise InputError("too_large", f"the body decompresses to more than {limit} bytes")
            if member.eof:
                break
            pending = member.unconsumed_tail
            if not pending:
                raise InputError("bad_gzip", "truncated gzip stream")
        # Interpretation: anything after a member must be another gzip member (no padding).
        rest = member.unused_data
    return bytes(out)


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
    body = bytes(data)
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, max_decompressed_bytes)
    text = body.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):  # the UTF-8 BOM EF BB BF
        text = text[1:]
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


# --------------------------------------------------------------------------------------------
# Validate


class _FieldError(Exception):
    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.message = message


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if _is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _format_number(value: float) -> str:
    """Contract bounds print as written: 0 rather than 0.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _normalize_enum(value: str) -> str:
    return value.strip(_ASCII_WS).translate(_ASCII_LOWER)


_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _encode_json(value: Any) -> str:
    """JSON text of a decoded value, without whitespace outside strings."""
    try:
        return _JSON_ENCODER.encode(value)
    except ValueError:  # a _LiteralNumber: write its literal as sent
        pass
    if isinstance(value, _LiteralNumber):
        return value.text
    if isinstance(value, dict):
        members = (f"{_encode_json(key)}:{_encode_json(item)}" for key, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode_json(item) for item in value) + "]"
    raise AssertionError(f"cannot encode {value!r}")  # pragma: no cover


class _Validator:
    def __init__(self, contract: ContractSpec) -> None:
        self.contract = contract
        self.names = frozenset(contract.field_names)
        self.reader = _JsonReader()

    def row(self, record: ParsedRecord) -> dict[str, Any]:
        values = record.values
        row: dict[str, Any] = {}
        for spec in self.contract.fields:
            name = spec.name
            if name in values:
                value = values[name]
            elif spec.required:
                raise _FieldError(name, "missing", f"{name} is required but missing")
            else:
                value = None
            if value is None:
                if not spec.nullable:
                    raise _FieldError(name, "null", f"{name} must not be null")
                row[name] = None
                continue
            typed = self.from_csv(spec, value) if record.from_csv else self.from_json(spec, value)
            self.check_constraints(spec, typed)
            row[name] = typed
        if self.contract.extra_fields == "reject":
            for key in values:
                if key not in self.names:
                    raise _FieldError(
                        key,
                        "extra_field",
                        f"{key} is not a field of the {self.contract.name} contract",
                    )
        return row

    # -- types ----------------------------------------------------------------------------

    @staticmethod
    def wrong_type(spec: FieldSpec, value: Any) -> _FieldError:
        return _FieldError(
            spec.name, "wrong_type", f"{spec.name}: expected {spec.type}, got {_json_kind(value)}"
        )

    @staticmethod
    def wrong_text(spec: FieldSpec, text: str) -> _FieldError:
        return _FieldError(
            spec.name, "wrong_type", f"{spec.name}: {text!r} is not a valid {spec.type}"
        )

    @staticmethod
    def int_in_range(spec: FieldSpec, value: int) -> int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise _FieldError(spec.name, "out_of_range", f"{spec.name}: {value} is beyond int64")
        return value

    @staticmethod
    def finite(spec: FieldSpec, value: float) -> float:
        if not math.isfinite(value):
            raise _FieldError(spec.name, "out_of_range", f"{spec.name}: the number is not finite")
        return value

    def from_json(self, spec: FieldSpec, value: Any) -> Any:
        kind = spec.type
        if kind == "string":
            if type(value) is not str:
                raise self.wrong_type(spec, value)
            return value
        if kind == "int":
            if type(value) is int:
                return self.int_in_range(spec, value)
            if isinstance(value, _LiteralNumber) and value.is_int:
                raise _FieldError(
                    spec.name, "out_of_range", f"{spec.name}: {value.text} is beyond int64"
                )
            raise self.wrong_type(spec, value)  # floats (1.5, 1.0, 1e3), bools, ...
        if kind == "float":
            if type(value) is int:
                try:
                    return self.finite(spec, float(value))
                except OverflowError:
                    raise _FieldError(
                        spec.name, "out_of_range", f"{spec.name}: the number is not finite"
                    ) from None
            if isinstance(value, float):
                return self.finite(spec, float(value))
            raise self.wrong_type(spec, value)
        if kind == "bool":
            if type(value) is not bool:
                raise self.wrong_type(spec, value)
            return value
        if kind == "timestamp":
            if type(value) is str:
                return self.iso_timestamp(spec, value)
            if type(value) is int:
                return self.epoch_int(spec, value)
            if isinstance(value, _LiteralNumber) and value.is_int:
                raise self.timestamp_range(spec, value.text)
            if isinstance(value, float):
                return self.epoch_float(spec, float(value), repr(float(value)))
            raise self.wrong_type(spec, value)
        if kind == "date":
            if type(value) is not str:
                raise self.wrong_type(spec, value)
            return self.date(spec, value)
        # json: any value, stored as its text
        return _encode_json(value)

    def from_csv(self, spec: FieldSpec, text: str) -> Any:
        kind = spec.type
        if kind == "string":
            return text
        if kind == "int":
            if _CSV_INT_RE.fullmatch(text) is None:
                raise self.wrong_text(spec, text)
            return self.int_in_range(spec, self.int_from_digits(text))
        if kind == "float":
            if _CSV_FLOAT_RE.fullmatch(text) is None:
                raise self.wrong_text(spec, text)
            return self.finite(spec, float(text))
        if kind == "bool":
            lowered = text.translate(_ASCII_LOWER)
            if lowered == "true":
                return True
            if lowered == "false":
                return False
            raise self.wrong_text(spec, text)
        if kind == "timestamp":
            if _CSV_INT_RE.fullmatch(text) is not None:
                return self.epoch_int(spec, self.int_from_digits(text))
            if _CSV_DECIMAL_RE.fullmatch(text) is not None:
                return self.epoch_float(spec, float(text), text)
            return self.iso_timestamp(spec, text)
        if kind == "date":
            return self.date(spec, text)
        # json: the cell must be exactly one JSON value
        try:
            value, _ = self.reader.decode_all(text)
        except _MalformedError as exc:
            raise _FieldError(
                spec.name, "invalid_json", f"{spec.name}: not valid JSON: {exc}"
            ) from None
        # Interpretation: the cell's value is depth 1 and may nest up to MAX_DEPTH; deeper
        # values and unpaired surrogate escapes are invalid_json too.
        if value is _TOO_DEEP or _nesting_exceeds_limit(text):
            raise _FieldError(
                spec.name, "invalid_json", f"{spec.name}: nests deeper than {MAX_DEPTH} levels"
            )
        if _has_unpaired_surrogate(text):
            raise _FieldError(
                spec.name,
                "invalid_json",
                f"{spec.name}: not valid JSON: an unpaired surrogate escape",
            )
        return _encode_json(value)

    @staticmethod
    def int_from_digits(text: str) -> int:
        """``-?[0-9]+`` as an int; more than 19 significant digits is past int64 either way
        (and past Python's int conversion limit, which leading zeros could otherwise hit)."""
        negative = text.startswith("-")
        digits = text.lstrip("-").lstrip("0")
        if len(digits) > 19:
            digits = "1" + "0" * 19
        number = int(digits) if digits else 0
        return -number if negative else number

    # -- timestamps and dates -------------------------------------------------------------

    @staticmethod
    def timestamp_range(spec: FieldSpec, shown: str) -> _FieldError:
        return _FieldError(
            spec.name, "out_of_range", f"{spec.name}: {shown} is outside years 1 to 9999"
        )

    def in_timestamp_range(self, spec: FieldSpec, micros: int, shown: str) -> int:
        if not MIN_TIMESTAMP_US <= micros <= MAX_TIMESTAMP_US:
            raise self.timestamp_range(spec, shown)
        return micros

    def epoch_int(self, spec: FieldSpec, number: int) -> int:
        micros = number * 1_000 if abs(number) >= EPOCH_MS_THRESHOLD else number * 1_000_000
        return self.in_timestamp_range(spec, micros, str(number))

    def epoch_float(self, spec: FieldSpec, number: float, shown: str) -> int:
        scaled = number * 1_000.0 if abs(number) >= EPOCH_MS_THRESHOLD else number * 1_000_000.0
        if not math.isfinite(scaled):
            raise self.timestamp_range(spec, shown)
        return self.in_timestamp_range(spec, math.trunc(scaled), shown)

    def iso_timestamp(self, spec: FieldSpec, text: str) -> int:
        match = _ISO_RE.fullmatch(text)

        def bad(why: str) -> _FieldError:
            return _FieldError(
                spec.name, "bad_timestamp", f"{spec.name}: {text!r} is not a timestamp ({why})"
            )

        if match is None:
            raise bad("expected YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|+HH:MM]")
        y, mo, d, h, mi, sec, frac, _zulu, sign, off_h, off_m = match.groups()
        year, month, day, hour, minute = int(y), int(mo), int(d), int(h), int(mi)
        second = int(sec) if sec is not None else 0
        if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
            raise bad("no such date")
        if hour > 23 or minute > 59 or second > 59:
            raise bad("no such time of day")
        offset = 0  # no offset, Z or z: UTC
        if sign is not None:
            offset_hours = int(off_h)
            offset_minutes = int(off_m) if off_m is not None else 0
            if offset_hours > 23 or offset_minutes > 59:
                raise bad("offset beyond ±23:59")
            offset = (offset_hours * 3600 + offset_minutes * 60) * (1 if sign == "+" else -1)
        fraction = (frac or "")[:6].ljust(6, "0")  # truncated to microseconds
        seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        micros = (seconds - offset) * 1_000_000 + int(fraction)
        return self.in_timestamp_range(spec, micros, repr(text))

    @staticmethod
    def date(spec: FieldSpec, text: str) -> int:
        match = _DATE_RE.fullmatch(text)
        if match is None:
            raise _FieldError(spec.name, "bad_date", f"{spec.name}: {text!r} is not YYYY-MM-DD")
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
            raise _FieldError(spec.name, "bad_date", f"{spec.name}: {text!r} is not a real date")
        if year < 1:
            # Interpretation: like timestamps, dates must fall in years 1 to 9999.
            raise _FieldError(
                spec.name, "out_of_range", f"{spec.name}: {text!r} is outside years 1 to 9999"
            )
        return _days_from_civil(year, month, day)

    # -- constraints ----------------------------------------------------------------------

    @staticmethod
    def check_constraints(spec: FieldSpec, value: Any) -> None:
        name = spec.name
        if spec.type == "string":
            length = len(value)
            if spec.min_length is not None and length < spec.min_length:
                raise _FieldError(
                    name, "too_short", f"{name}: {length} characters, fewer than {spec.min_length}"
                )
            if spec.max_length is not None and length > spec.max_length:
                raise _FieldError(
                    name, "too_long", f"{name}: {length} characters, more than {spec.max_length}"
                )
            if spec.enum is not None and _normalize_enum(value) not in spec.enum:
                raise _FieldError(
                    name, "not_in_enum", f"{name}: {value!r} is not one of {', '.join(spec.enum)}"
                )
        elif spec.type == "int" or spec.type == "float":
            # Python compares int with float exactly (no rounding of the int to float64).
            if spec.min is not None and value < spec.min:
                raise _FieldError(
                    name,
                    "out_of_range",
                    f"{name}: {value!r} is below the minimum {_format_number(spec.min)}",
                )
            if spec.max is not None and value > spec.max:
                raise _FieldError(
                    name,
                    "out_of_range",
                    f"{name}: {value!r} is above the maximum {_format_number(spec.max)}",
                )


def validate_schema(batch: ParsedBatch, contract: ContractSpec) -> ValidatedBatch:
    """Type every record against the contract; a record fails on its first failing field
    (contract order), then on its first extra key (key order) when extras are rejected."""
    validator = _Validator(contract)
    rows: list[dict[str, Any]] = []
    rejected = list(batch.rejected)
    for record in batch.records:
        try:
            rows.append(validator.row(record))
        except _FieldError as exc:
            rejected.append(
                Rejection(record.index, record.line, exc.field, exc.reason, exc.message, record.raw)
            )
    rejected.sort(key=lambda rejection: rejection.record_index)
    return ValidatedBatch(contract, rows, rejected)


# --------------------------------------------------------------------------------------------
# Transform


def transform_batch(
    batch: ValidatedBatch,
    *,
    job_id: str = "",
    source: str = "",
    ingested_at_us: int | None = None,
) -> TransformedBatch:
    """Normalise enum strings, derive the partition column, append the metadata columns."""
    contract = batch.contract
    if ingested_at_us is None:
        ingested_at_us = time.time_ns() // 1_000
    enum_fields = [
        spec.name for spec in contract.fields if spec.type == "string" and spec.enum is not None
    ]
    partition = contract.partition
    partition_type = None
    if partition is not None:
        partition_type = contract.field(partition.field).type
        if partition_type not in ("timestamp", "date"):
            raise ValueError(f"cannot partition by day on a {partition_type} field")
    rows: list[dict[str, Any]] = []
    for row in batch.rows:
        out = dict(row)
        for name in enum_fields:
            if out[name] is not None:
                out[name] = _normalize_enum(out[name])
        if partition is not None:
            value = out[partition.field]
            if value is not None and partition_type == "timestamp":
                value = value // MICROS_PER_DAY  # the UTC day; floor for times before 1970
            out[partition.column] = value
        out["_job_id"] = job_id
        out["_ingested_at"] = ingested_at_us
        out["_source"] = source
        rows.append(out)
    return TransformedBatch(contract, rows, list(batch.rejected), 0)


# --------------------------------------------------------------------------------------------
# Deduplicate


def _keys(batch: TransformedBatch) -> list[tuple[Any, ...]]:
    # Python tuples compare nulls equal to each other and -0.0 equal to 0.0.
    names = batch.contract.dedup_key
    return [tuple(row[name] for name in names) for row in batch.rows]


def deduplicate(batch: TransformedBatch) -> TransformedBatch:
    """Keep the first row of each dedup key within the batch."""
    if not batch.contract.dedup_key:
        return TransformedBatch(
            batch.contract, list(batch.rows), list(batch.rejected), batch.num_duplicates
        )
    seen: set[tuple[Any, ...]] = set()
    kept: list[dict[str, Any]] = []
    for key, row in zip(_keys(batch), batch.rows, strict=True):
        if key not in seen:
            seen.add(key)
            kept.append(row)
    duplicates = batch.num_duplicates + len(batch.rows) - len(kept)
    return TransformedBatch(batch.contract, kept, list(batch.rejected), duplicates)


class Deduplicator:
    """Remembers up to ``capacity`` dedup keys across batches, forgetting the oldest first.

    The reference keeps the keys themselves (the Rust core keeps 128-bit hashes of them).
    """

    def __init__(self, capacity: int = 10_000_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._order: deque[tuple[Any, ...]] = deque()
        self._known: set[tuple[Any, ...]] = set()

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return len(self._known)

    def deduplicate(self, batch: TransformedBatch) -> TransformedBatch:
        """Drop rows whose key was seen earlier in this batch or remembered from an earlier
        batch, then remember this batch's new keys in row order (oldest evicted first)."""
        if not batch.contract.dedup_key:
            return deduplicate(batch)
        new_keys: list[tuple[Any, ...]] = []
        in_batch: set[tuple[Any, ...]] = set()
        kept: list[dict[str, Any]] = []
        for key, row in zip(_keys(batch), batch.rows, strict=True):
            if key in in_batch or key in self._known:
                continue
            in_batch.add(key)
            new_keys.append(key)
            kept.append(row)
        for key in new_keys:
            self._order.append(key)
            self._known.add(key)
            if len(self._order) > self._capacity:
                self._known.discard(self._order.popleft())
        duplicates = batch.num_duplicates + len(batch.rows) - len(kept)
        return TransformedBatch(batch.contract, kept, list(batch.rejected), duplicates)


# --------------------------------------------------------------------------------------------
# Arrow


_ARROW_TYPES: dict[str, Any] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "json": pa.string(),
}


def arrow_schema(contract: ContractSpec) -> pa.Schema:
    """Contract fields, the partition column, then ``_job_id``, ``_ingested_at``, ``_source``."""
    fields = [
        pa.field(spec.name, _ARROW_TYPES[spec.type], nullable=spec.nullable)
        for spec in contract.fields
    ]
    if contract.partition is not None:
        source = contract.field(contract.partition.field)
        fields.append(pa.field(contract.partition.column, pa.date32(), nullable=source.nullable))
    fields.append(pa.field("_job_id", pa.string(), nullable=False))
    fields.append(pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False))
    fields.append(pa.field("_source", pa.string(), nullable=False))
    return pa.schema(fields)


def to_arrow(batch: TransformedBatch) -> pa.RecordBatch:
    schema = arrow_schema(batch.contract)
    arrays = [
        pa.array([row[field.name] for row in batch.rows], type=field.type) for field in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def rejected_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field("record_index", pa.int64(), nullable=False),
            pa.field("line", pa.int64(), nullable=False),
            pa.field("field", pa.string(), nullable=True),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("message", pa.string(), nullable=False),
            pa.field("raw", pa.string(), nullable=False),
        ]
    )


def rejected_to_arrow(rejected: list[Rejection]) -> pa.RecordBatch:
    schema = rejected_schema()
    columns = {
        "record_index": [r.record_index for r in rejected],
        "line": [r.line for r in rejected],
        "field": [r.field for r in rejected],
        "reason": [r.reason for r in rejected],
        "message": [r.message for r in rejected],
        "raw": [r.raw for r in rejected],
    }
    arrays = [pa.array(columns[field.name], type=field.type) for field in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# --------------------------------------------------------------------------------------------
# All steps


def process(
    data: bytes,
    contract: ContractSpec,
    *,
    format: str = "auto",
    job_id: str = "",
    source: str = "",
    ingested_at_us: int | None = None,
    deduplicator: Deduplicator | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> TransformedBatch:
    """parse -> validate -> transform -> deduplicate (against ``deduplicator`` when given,
    else within the batch)."""
    parsed = parse_events(
        data,
        format,
        max_record_bytes=max_record_bytes,
        max_decompressed_bytes=max_decompressed_bytes,
    )
    validated = validate_schema(parsed, contract)
    transformed = transform_batch(
        validated, job_id=job_id, source=source, ingested_at_us=ingested_at_us
    )
    if deduplicator is not None:
        return deduplicator.deduplicate(transformed)
    return deduplicate(transformed)
