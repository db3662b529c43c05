"""Unit tests of the pure-Python reference against docs/processing.md."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from eventlake.contracts import ContractSpec
from eventlake.processing import reference as ref
from eventlake.processing.reference import (
    Deduplicator,
    InputError,
    ParsedBatch,
    Rejection,
    deduplicate,
    parse_events,
    process,
    rejected_to_arrow,
    to_arrow,
    transform_batch,
    validate_schema,
)
from eventlake.processing.reference.json import _reject_constant, _scan_json_value


def summary(batch: ParsedBatch) -> list[tuple[int, int, str]]:
    """(record_index, line, "ok" or reason) for every record, in input order."""
    rows = [(r.index, r.line, "ok") for r in batch.records]
    rows += [(r.record_index, r.line, r.reason) for r in batch.rejected]
    return sorted(rows)


def only_rejection(batch: ParsedBatch) -> Rejection:
    assert batch.records == []
    assert len(batch.rejected) == 1
    return batch.rejected[0]


def reason_of(line: bytes, fmt: str = "ndjson", **kw: Any) -> str:
    batch = parse_events(line, fmt, **kw)
    if batch.records:
        return "ok"
    return only_rejection(batch).reason


def nested(depth: int) -> bytes:
    """An object record of exactly ``depth`` levels: the object plus depth-1 arrays."""
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def ts(text: str) -> int:
    """Microseconds since the epoch of an aware ISO datetime (for expected values)."""
    moment = datetime.fromisoformat(text)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --------------------------------------------------------------------------------------------
# Parse: every reason code


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"a": 1}', "ok"),
        (b'{"a": }', "invalid_json"),
        (b'{"a": NaN}', "invalid_json"),
        (b'{"a": Infinity}', "invalid_json"),
        (b'{"a": -Infinity}', "invalid_json"),
        (b'{"a": 1} x', "invalid_json"),
        (b'{"a": 1}{"b": 2}', "invalid_json"),
        (b'{"a": 01}', "invalid_json"),
        (b'{"a": "tab\tinside"}', "invalid_json"),
        (b"{'a': 1}", "invalid_json"),
        (b'{"a": "\\ud800"}', "invalid_json"),
        (b'{"a": "\\udc00"}', "invalid_json"),
        (b'{"a": "\\ud800\\u0041"}', "invalid_json"),
        (b'{"a": "\\ud800x\\udc00"}', "invalid_json"),
        (b'{"\\ud800": 1}', "invalid_json"),
        (b'{"a": {"b": ["\\uDBFF"]}}', "invalid_json"),
        (b'{"a": "\\ud83d\\ude00"}', "ok"),
        (b'{"a": "\\\\ud800"}', "ok"),
        (b'{"a": "\xff"}', "invalid_utf8"),
        (b'{"a": "\xed\xa0\x80"}', "invalid_utf8"),
        (b'{"a": "\xc3"}', "invalid_utf8"),
        (b"[1, 2]", "not_an_object"),
        (b'"a string"', "not_an_object"),
        (b"42", "not_an_object"),
        (b"null", "not_an_object"),
        (b'{"a": 1, "a": 2}', "duplicate_key"),
        (b'{"a": {"b": 1, "b": 2}}', "ok"),
        (nested(64), "ok"),
        (nested(65), "too_deep"),
        (b"[" * 65 + b"]" * 65, "too_deep"),
        (b"[" * 64 + b"]" * 64, "not_an_object"),
        (nested(20_000), "too_deep"),
    ],
)
def test_parse_reason_of_one_ndjson_line(line: bytes, reason: str) -> None:
    assert reason_of(line) == reason


def test_decoded_values_and_nested_duplicates_last_wins() -> None:
    batch = parse_events(b'{"a": "\\ud83d\\ude00", "b": {"c": 1, "c": 2}, "d": [1.5, true]}')
    assert [r.values for r in batch.records] == [
        {"a": "\U0001f600", "b": {"c": 2}, "d": [1.5, True]}
    ]


def test_too_large_counts_bytes_of_the_record() -> None:
    record = '{"a":"' + "é" * 10 + '"}'  # 10 code points, 20 bytes of é
    size = len(record.encode())
    assert reason_of(record.encode(), max_record_bytes=size) == "ok"
    assert reason_of(record.encode(), max_record_bytes=size - 1) == "too_large"
    # NDJSON: the newline and a trailing \r are not part of the record
    assert reason_of(record.encode() + b"\r\n", max_record_bytes=size) == "ok"
    # ... but surrounding spaces are
    assert reason_of(b"  " + record.encode(), max_record_bytes=size) == "too_large"


def test_too_large_array_element_and_single_object() -> None:
    body = b'[{"a": 1}, {"a": "' + b"x" * 100 + b'"}, {"b": 2}]'
    batch = parse_events(body, max_record_bytes=50)
    assert summary(batch) == [(0, 1, "ok"), (1, 1, "too_large"), (2, 1, "ok")]
    assert batch.rejected[0].raw == '{"a": "' + "x" * 100 + '"}'
    # a single object: the body without the whitespace around it (17 bytes)
    assert reason_of(b'  {"a": "xxxxxxxx"}  \n', "json", max_record_bytes=16) == "too_large"
    assert reason_of(b'  {"a": "xxxxxxxx"}  \n', "json", max_record_bytes=17) == "ok"


def test_ragged_row() -> None:
    batch = parse_events(b"a,b\n1,2\n1\n1,2,3\n", "csv")
    assert summary(batch) == [(0, 2, "ok"), (1, 3, "ragged_row"), (2, 4, "ragged_row")]
    assert [r.raw for r in batch.rejected] == ["1", "1,2,3"]
    assert all(r.field is None for r in batch.rejected)


# --------------------------------------------------------------------------------------------
# Parse: check order


@pytest.mark.parametrize(
    ("line", "max_bytes", "reason"),
    [
        # too_large before invalid_utf8 and before a syntax error
        (b'{"a": "\xff\xff\xff\xff"}', 10, "too_large"),
        (b"not json at all, and long", 10, "too_large"),
        # invalid_utf8 before a syntax error, depth, surrogates, shape
        (b'{"a": "\xff"', 1000, "invalid_utf8"),
        (b'[{"a": "\xff"}]', 1000, "invalid_utf8"),
        (b'{"a": "\xff", "a": 1}', 1000, "invalid_utf8"),
        # too_deep before an unpaired surrogate escape
        (b'{"s": "\\ud800", "a":' + b"[" * 70 + b"]" * 70 + b"}", 100_000, "too_deep"),
        # the surrogate check before not_an_object and duplicate_key
        (b'["\\ud800"]', 1000, "invalid_json"),
        (b'{"a": "\\ud800", "a": 1}', 1000, "invalid_json"),
        # not_an_object before duplicate_key (duplicates inside an array's object)
        (b'[{"a": 1, "a": 2}]', 1000, "not_an_object"),
    ],
)
def test_parse_check_order(line: bytes, max_bytes: int, reason: str) -> None:
    assert reason_of(line, max_record_bytes=max_bytes) == reason


def test_unpaired_surrogate_in_a_dropped_duplicate_still_counts() -> None:
    # the nested duplicate {"k": "\ud800"} is overwritten, but the escape is in the record
    assert reason_of(b'{"o": {"k": "\\ud800", "k": "fine"}}') == "invalid_json"


# --------------------------------------------------------------------------------------------
# Parse: record_index, line, raw


def test_ndjson_lines_blank_lines_and_crlf() -> None:
    body = b'{"a":1}\r\n\r\n   \n\t \r\n{"a":2}\nnope\n\n[1]\n{"a":3}'
    batch = parse_events(body)
    assert batch.format == "ndjson"
    assert summary(batch) == [
        (0, 1, "ok"),
        (1, 5, "ok"),
        (2, 6, "invalid_json"),
        (3, 8, "not_an_object"),
        (4, 9, "ok"),
    ]
    assert [r.values for r in batch.records] == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert batch.records[0].raw == '{"a":1}'  # no \r


def test_array_element_lines() -> None:
    body = b'\n[\n  {"a": 1},\n  {"a":\n 2}, 7,\n\n  {"a": 3}\n]\n'
    batch = parse_events(body)
    assert batch.format == "json"
    assert summary(batch) == [(0, 3, "ok"), (1, 4, "ok"), (2, 5, "not_an_object"), (3, 7, "ok")]
    assert batch.records[1].raw == '{"a":\n 2}'


def test_csv_lines_with_quoted_newlines_and_all_line_endings() -> None:
    body = b'id,text\r\n1,"two\nlines"\r\n\r\n2,"three\r\nli\rnes"\n3,plain\r4,last'
    batch = parse_events(body, "csv")
    assert summary(batch) == [(0, 2, "ok"), (1, 5, "ok"), (2, 8, "ok"), (3, 9, "ok")]
    assert [r.values for r in batch.records] == [
        {"id": "1", "text": "two\nlines"},
        {"id": "2", "text": "three\r\nli\rnes"},
        {"id": "3", "text": "plain"},
        {"id": "4", "text": "last"},
    ]


def test_raw_is_cut_to_65536_bytes_and_invalid_utf8_replaced() -> None:
    big = b'{"a": "' + b"x" * 70_000 + b'"}'
    batch = parse_events(big + b"\n" + b'{"b": "\xffok"}', max_record_bytes=10**6)
    record = batch.records[0]
    assert len(record.raw.encode()) == 65_536
    assert record.raw == big[:65_536].decode()
    assert batch.rejected[0].raw == '{"b": "\ufffdok"}'
    # a cut through a multi-byte character: its replacement character would pass the cap, so
    # it is cut too, at the character boundary before it
    cut = b'{"a": "' + "é".encode() * 40_000 + b'"}'
    raw = parse_events(cut, max_record_bytes=10).rejected[0].raw
    assert raw.endswith("é")
    assert len(raw.encode()) == 65_535
    assert len(raw.encode("utf-8", "surrogatepass")) <= 65_536 + 2


def test_csv_raw_is_the_row_reencoded() -> None:
    body = b'a,b,c\n"x, y","say ""hi""",\n"multi\nline",1\n'
    batch = parse_events(body, "csv")
    assert batch.records[0].raw == '"x, y","say ""hi""",'
    assert batch.records[0].values == {"a": "x, y", "b": 'say "hi"', "c": None}
    assert batch.rejected[0].reason == "ragged_row"
    assert batch.rejected[0].raw == '"multi\nline",1'


def test_csv_row_with_invalid_utf8_and_too_large() -> None:
    body = b"a,b\nok,\xff\n" + b"x" * 50 + b",y\n"
    batch = parse_events(body, "csv", max_record_bytes=20)
    assert summary(batch) == [(0, 2, "invalid_utf8"), (1, 3, "too_large")]
    assert batch.rejected[0].raw == "ok,\ufffd"


# --------------------------------------------------------------------------------------------
# Parse: format detection, gzip, BOM, empty bodies


@pytest.mark.parametrize(
    ("body", "fmt", "n_records"),
    [
        (b'[{"a": 1}, {"a": 2}]', "json", 2),
        (b'  \n {"a": 1}  \n', "json", 1),
        (b'{\n  "a": 1,\n  "b": [1, 2]\n}\n', "json", 1),
        (b'{"a": 1}\n{"a": 2}\n', "ndjson", 2),
        (b'{"a": 1} {"a": 2}', "ndjson", 0),  # one line holding two values
        (b"a,b\n1,2\n", "csv", 1),
        (b'"a",b\n1,2\n', "csv", 1),
        (b'\xef\xbb\xbf[{"a": 1}]', "json", 1),
    ],
)
def test_format_detection(body: bytes, fmt: str, n_records: int) -> None:
    batch = parse_events(body)
    assert batch.format == fmt
    assert len(batch.records) == n_records


def test_pretty_printed_object_is_one_record_at_the_line_of_its_brace() -> None:
    batch = parse_events(b'\n\n{\n  "a": 1\n}\n')
    assert batch.format == "json"
    assert summary(batch) == [(0, 3, "ok")]


def test_malformed_first_object_makes_the_body_one_invalid_record() -> None:
    batch = parse_events(b'{"a": 1,}\n{"b": 2}\n')
    assert batch.format == "json"
    rejection = only_rejection(batch)
    assert (rejection.record_index, rejection.line, rejection.reason) == (0, 1, "invalid_json")
    assert rejection.raw == '{"a": 1,}\n{"b": 2}'


def test_given_format_wins_over_detection() -> None:
    assert parse_events(b'[{"a": 1}]', "ndjson").rejected[0].reason == "not_an_object"
    assert parse_events(b'{"a": 1}\n{"a": 2}', "json").rejected[0].reason == "invalid_json"
    assert parse_events(b'"just a string"', "json").rejected[0].reason == "not_an_object"
    csv_batch = parse_events(b'{"a": 1}\n{"a": 2}', "csv")
    assert csv_batch.format == "csv"
    assert csv_batch.records[0].values == {'{"a": 1}': '{"a": 2}'}


def test_unknown_format() -> None:
    with pytest.raises(InputError) as info:
        parse_events(b"{}", "xml")
    assert info.value.reason == "unknown_format"


def test_gzip_single_and_multi_member_and_bom() -> None:
    body = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'\xef\xbb\xbf{"a": 2}\n')
    # the BOM is only dropped at the very start; inside it is an invalid record
    batch = parse_events(body)
    assert summary(batch) == [(0, 1, "ok"), (1, 2, "invalid_json")]
    bom_first = gzip.compress(b'\xef\xbb\xbf{"a": 1}\n') + gzip.compress(b'{"a": 2}\n')
    assert summary(parse_events(bom_first)) == [(0, 1, "ok"), (1, 2, "ok")]


def test_gzip_errors() -> None:
    payload = b'{"a": 1}\n' * 100
    good = gzip.compress(payload)
    assert len(parse_events(good, max_decompressed_bytes=len(payload)).records) == 100
    for bad, reason in [
        (good[:-5], "bad_gzip"),  # truncated
        (good[:10] + b"\x00" * 20 + good[30:], "bad_gzip"),  # damaged
        (good + b"trailing garbage", "bad_gzip"),
        (b"\x1f\x8b", "bad_gzip"),
    ]:
        with pytest.raises(InputError) as info:
            parse_events(bad)
        assert info.value.reason == reason
    with pytest.raises(InputError) as info:
        parse_events(good, max_decompressed_bytes=len(payload) - 1)
    assert info.value.reason == "too_large"
    bomb = gzip.compress(b" " * 10_000_000)
    with pytest.raises(InputError) as info:
        parse_events(bomb, max_decompressed_bytes=1000)
    assert info.value.reason == "too_large"


@pytest.mark.parametrize(
    ("body", "fmt", "expected_format"),
    [
        (b"", "auto", "ndjson"),
        (b" \t\r\n\n", "auto", "ndjson"),
        (b"\xef\xbb\xbf", "auto", "ndjson"),
        (gzip.compress(b"", mtime=0), "auto", "ndjson"),
        (b"\n\n", "csv", "csv"),
        (b"[]", "auto", "json"),
        (b" [ \n ] \n", "auto", "json"),
        (b"a,b\r\n", "auto", "csv"),  # a header and no rows
    ],
)
def test_empty_batches(body: bytes, fmt: str, expected_format: str) -> None:
    batch = parse_events(body, fmt)
    assert (batch.format, batch.records, batch.rejected) == (expected_format, [], [])


# --------------------------------------------------------------------------------------------
# Parse: JSON arrays


def test_truncated_array_keeps_valid_elements_and_rejects_the_rest() -> None:
    batch = parse_events(b'[{"a": 1},\n {"a": 2},\n {"b": ')
    assert summary(batch) == [(0, 1, "ok"), (1, 2, "ok"), (2, 3, "invalid_json")]
    assert batch.rejected[0].raw == '{"b":'


@pytest.mark.parametrize("body", [b'[{"a": 1}', b'[{"a": 1},', b'[{"a": 1}, \n  '])
def test_missing_closing_bracket_is_one_empty_invalid_record(body: bytes) -> None:
    batch = parse_events(body)
    assert [r.values for r in batch.records] == [{"a": 1}]
    assert [(r.record_index, r.reason, r.raw) for r in batch.rejected] == [(1, "invalid_json", "")]


def test_bare_open_bracket() -> None:
    rejection = only_rejection(parse_events(b"[\n"))
    assert (rejection.record_index, rejection.line, rejection.raw) == (0, 2, "")


def test_malformed_element_stops_reading() -> None:
    batch = parse_events(b'[{"a": 1}, {"a": NaN}, {"a": 3}]')
    assert summary(batch) == [(0, 1, "ok"), (1, 1, "invalid_json")]
    assert batch.rejected[0].raw == '{"a": NaN}, {"a": 3}]'


def test_missing_comma_stops_reading() -> None:
    batch = parse_events(b'[{"a": 1} {"a": 2}, {"a": 3}]')
    assert summary(batch) == [(0, 1, "ok"), (1, 1, "invalid_json")]
    assert batch.rejected[0].raw == '{"a": 2}, {"a": 3}]'


def test_trailing_comma_and_empty_element() -> None:
    batch = parse_events(b'[{"a": 1},]')
    assert summary(batch) == [(0, 1, "ok"), (1, 1, "invalid_json")]
    assert batch.rejected[0].raw == "]"
    assert summary(parse_events(b"[,]")) == [(0, 1, "invalid_json")]


def test_trailing_garbage_after_the_array() -> None:
    batch = parse_events(b'[{"a": 1}, {"a": 2}]\n\n  garbage {"x": 1}\n')
    assert summary(batch) == [(0, 1, "ok"), (1, 1, "ok"), (2, 3, "invalid_json")]
    assert batch.rejected[0].raw == 'garbage {"x": 1}'
    # whitespace after the array is fine
    assert summary(parse_events(b'[{"a": 1}] \n\t\r\n')) == [(0, 1, "ok")]


def test_invalid_utf8_outside_strings_is_a_syntax_error_in_arrays() -> None:
    batch = parse_events(b'[{"a": "\xff"}, {"a": 1}\xff, {"a": 2}]')
    assert summary(batch) == [(0, 1, "invalid_utf8"), (1, 1, "ok"), (2, 1, "invalid_json")]
    assert batch.rejected[1].raw == '\ufffd, {"a": 2}]'


def test_very_deep_element_has_an_extent_and_reading_goes_on() -> None:
    deep = b"[" * 5_000 + b"]" * 5_000
    batch = parse_events(b'[{"a": 1}, ' + deep + b', {"a": 2}]')
    assert summary(batch) == [(0, 1, "ok"), (1, 1, "too_deep"), (2, 1, "ok")]


def test_very_deep_malformed_element_is_the_rest() -> None:
    batch = parse_events(b'[{"a": 1}, ' + b"[" * 5_000 + b"}]")
    assert summary(batch) == [(0, 1, "ok"), (1, 1, "invalid_json")]


def test_number_literals_beyond_float_and_int_limits_are_valid_json() -> None:
    huge_int = b"9" * 5_000
    batch = parse_events(b'{"f": 1e400, "n": -1E999, "i": ' + huge_int + b"}")
    assert len(batch.records) == 1
    values = batch.records[0].values
    assert values["f"] == float("inf")
    assert values["n"] == float("-inf")


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5e-3, -0, true, false, null, "x\\u00e9\\n"], "b": {}}',
        "[]",
        "[[], {}]",
        '"\\/"',
        "-0.0e+0",
        '{"a" : 1 , "b" : [ ] }',
        "[1,]",
        "[01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "{1: 2}",
        '{"a" 1}',
        '["\\x"]',
        '["\\u12"]',
        '["a\tb"]',
        "[tru]",
        "[NaN]",
        "[-]",
        "{",
        '{"a": 1,}',
    ],
)
def test_iterative_checker_agrees_with_the_json_module(text: str) -> None:
    try:
        _, end = json.JSONDecoder(parse_constant=_reject_constant).raw_decode(text, 0)
        expected: int | None = end
    except ValueError:
        expected = None
    try:
        got: int | None = _scan_json_value(text, 0)[0]
    except ValueError:
        got = None
    assert got == expected


# --------------------------------------------------------------------------------------------
# Validate


def one_field(make_contract: Any, **field: Any) -> ContractSpec:
    return make_contract({"name": "v", **field})


def check_json(contract: ContractSpec, value: Any) -> Any:
    """The stored value, or the rejection reason, for {"v": value} as one NDJSON record."""
    body = json.dumps({"v": value}).encode() if value is not ... else b"{}"
    return _outcome(validate_schema(parse_events(body, "ndjson"), contract))


def check_csv(contract: ContractSpec, cell: str) -> Any:
    body = ("v\n" + ('""' if cell == "" else cell) + "\n").encode()
    return _outcome(validate_schema(parse_events(body, "csv"), contract))


def _outcome(batch: ref.ValidatedBatch) -> Any:
    if batch.rows:
        return batch.rows[0]["v"]
    assert len(batch.rejected) == 1
    return batch.rejected[0].reason


def test_missing_null_and_absent_optional(make_contract: Any) -> None:
    required = one_field(make_contract, type="string", required=True, nullable=False)
    assert check_json(required, ...) == "missing"
    assert check_json(required, None) == "null"
    assert check_csv(required, "") == "null"
    optional = one_field(make_contract, type="string")
    assert check_json(optional, ...) is None
    assert check_json(optional, None) is None
    assert check_csv(optional, "") is None
    # absent and not required is null, and null is refused when not nullable
    optional_not_null = one_field(make_contract, type="string", nullable=False)
    assert check_json(optional_not_null, ...) == "null"
    required_nullable = one_field(make_contract, type="int", required=True)
    assert check_json(required_nullable, None) is None


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("string", "12", "12"),
        ("string", 12, "wrong_type"),
        ("string", True, "wrong_type"),
        ("string", {"a": 1}, "wrong_type"),
        ("int", 12, 12),
        ("int", -(2**63), -(2**63)),
        ("int", 2**63 - 1, 2**63 - 1),
        ("int", 2**63, "out_of_range"),
        ("int", -(2**63) - 1, "out_of_range"),
        ("int", "12", "wrong_type"),
        ("int", 1.5, "wrong_type"),
        ("int", 1.0, "wrong_type"),
        ("int", True, "wrong_type"),
        ("float", 1.5, 1.5),
        ("float", 2, 2.0),
        ("float", 10**400, "out_of_range"),
        ("float", "1.5", "wrong_type"),
        ("float", False, "wrong_type"),
        ("float", [1.5], "wrong_type"),
        ("bool", True, True),
        ("bool", False, False),
        ("bool", "true", "wrong_type"),
        ("bool", 1, "wrong_type"),
        ("date", "2024-02-29", 19_782),
        ("date", "1969-12-31", -1),
        ("date", "2023-02-29", "bad_date"),
        ("date", "2024-1-05", "bad_date"),
        ("date", "2024-01-05T00:00:00", "bad_date"),
        ("date", "0000-01-01", "out_of_range"),
        ("date", 20240105, "wrong_type"),
        ("timestamp", True, "wrong_type"),
        ("timestamp", [1], "wrong_type"),
        ("timestamp", "1700000000", "bad_timestamp"),
        ("json", {"b": [1, 2, {"c": None}]}, '{"b":[1,2,{"c":null}]}'),
        ("json", "text", '"text"'),
        ("json", 3, "3"),
        ("json", False, "false"),
    ],
)
def test_json_types(make_contract: Any, type_: str, value: Any, expected: Any) -> None:
    got = check_json(one_field(make_contract, type=type_), value)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("type_", "cell", "expected"),
    [
        ("string", " any text ", " any text "),
        ("int", "42", 42),
        ("int", "-007", -7),
        ("int", "9223372036854775807", 2**63 - 1),
        ("int", "9223372036854775808", "out_of_range"),
        ("int", "0" * 5000 + "1", 1),
        ("int", "9" * 5000, "out_of_range"),
        ("int", "+1", "wrong_type"),
        ("int", " 1", "wrong_type"),
        ("int", "1.0", "wrong_type"),
        ("int", "1e3", "wrong_type"),
        ("int", "\u0661\u0662", "wrong_type"),  # Arabic-Indic digits are not [0-9]
        ("float", "1.5", 1.5),
        ("float", ".5", 0.5),
        ("float", "5.", 5.0),
        ("float", "+1e3", 1000.0),
        ("float", "-2E-2", -0.02),
        ("float", "1e400", "out_of_range"),
        ("float", "1e", "wrong_type"),
        ("float", ".", "wrong_type"),
        ("float", "inf", "wrong_type"),
        ("float", "nan", "wrong_type"),
        ("float", "1_000", "wrong_type"),
        ("float", " 1", "wrong_type"),
        ("bool", "true", True),
        ("bool", "FALSE", False),
        ("bool", "tRuE", True),
        ("bool", "1", "wrong_type"),
        ("bool", "yes", "wrong_type"),
        ("date", "2024-01-05", 19_727),
        ("date", "2024-13-01", "bad_date"),
        ("timestamp", "1700000000", 1_700_000_000_000_000),
        ("timestamp", "1700000000000", 1_700_000_000_000_000),
        ("timestamp", "-1.5", -1_500_000),
        ("timestamp", "1700000000.25", 1_700_000_000_250_000),
        ("timestamp", "2024-01-05T10:00:00Z", ts("2024-01-05T10:00:00+00:00")),
        ("timestamp", "1e9", "bad_timestamp"),
        ("timestamp", "+1700000000", "bad_timestamp"),
        ("timestamp", "9" * 5000, "out_of_range"),
        ("json", ' {"a" : [1, 2]} ', '{"a":[1,2]}'),
        ("json", '"x"', '"x"'),
        ("json", "null", "null"),
        ("json", "{bad}", "invalid_json"),
        ("json", "plain text", "invalid_json"),
        ("json", "NaN", "invalid_json"),
        ("json", '"\\ud800"', "invalid_json"),
        ("json", "[1] [2]", "invalid_json"),
        ("json", "[" * 64 + "]" * 64, "[" * 64 + "]" * 64),
        ("json", "[" * 65 + "]" * 65, "invalid_json"),
    ],
)
def test_csv_types(make_contract: Any, type_: str, cell: str, expected: Any) -> None:
    body = "v\n" + ('"' + cell.replace('"', '""') + '"' if cell else '""') + "\n"
    batch = validate_schema(
        parse_events(body.encode(), "csv"), one_field(make_contract, type=type_)
    )
    got = _outcome(batch)
    assert got == expected
    assert type(got) is type(expected)
    if batch.rejected:
        assert batch.rejected[0].field == "v"


def test_json_field_text_is_json_without_whitespace(make_contract: Any) -> None:
    contract = one_field(make_contract, type="json")
    body = b'{"v": { "a" : [ 1 , 2.50 , "x y" ] , "big": 1e400, "i": ' + b"7" * 5000 + b" }}"
    text = _outcome(validate_schema(parse_events(body), contract))
    assert text == '{"a":[1,2.5,"x y"],"big":1e400,"i":' + "7" * 5000 + "}"


def test_min_max_and_lengths(make_contract: Any) -> None:
    value = one_field(make_contract, type="float", min=0, max=10)
    assert check_json(value, 0) == 0.0
    assert check_json(value, 10) == 10.0
    assert check_json(value, -0.5) == "out_of_range"
    assert check_json(value, 10.000001) == "out_of_range"
    assert check_csv(value, "11") == "out_of_range"
    count = one_field(make_contract, type="int", min=-1, max=2**53)
    assert check_json(count, 2**53) == 2**53
    assert check_json(count, 2**53 + 1) == "out_of_range"  # compared exactly, not as float64
    assert check_json(count, -2) == "out_of_range"
    name = one_field(make_contract, type="string", min_length=2, max_length=3)
    assert check_json(name, "é") == "too_short"
    assert check_json(name, "éé") == "éé"
    assert check_json(name, "\U0001f600\U0001f600\U0001f600") == "\U0001f600" * 3
    assert check_json(name, "abcd") == "too_long"
    assert check_json(name, "") == "too_short"


def test_out_of_range_message(make_contract: Any) -> None:
    contract = one_field(make_contract, type="float", min=0)
    batch = validate_schema(parse_events(b'{"v": -3.0}'), contract)
    assert batch.rejected[0].message == "v: -3.0 is below the minimum 0"


def test_enum_is_checked_trimmed_and_ascii_lowercased(make_contract: Any) -> None:
    contract = one_field(make_contract, type="string", enum=["page_view", "straße"])
    assert check_json(contract, " Page_VIEW\t\n") == " Page_VIEW\t\n"  # stored as sent here
    assert check_json(contract, "\x0cpage_view\r") == "\x0cpage_view\r"
    assert check_json(contract, "page view") == "not_in_enum"
    assert check_json(contract, "\u00a0page_view") == "not_in_enum"  # NBSP is not ASCII space
    assert check_json(contract, "\x0bpage_view") == "not_in_enum"  # nor is vertical tab
    assert check_json(contract, "STRAßE") == "STRAßE"
    assert check_json(contract, "STRASSE") == "not_in_enum"
    assert check_json(contract, "PAGE_VİEW") == "not_in_enum"  # İ is not ASCII
    # lengths apply to the value as sent
    limited = one_field(make_contract, type="string", enum=["ab"], max_length=3)
    assert check_json(limited, "  ab  ") == "too_long"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-05T10:20:30Z", ts("2024-01-05T10:20:30+00:00")),
        ("2024-01-05T10:20:30z", ts("2024-01-05T10:20:30+00:00")),
        ("2024-01-05 10:20:30Z", ts("2024-01-05T10:20:30+00:00")),
        ("2024-01-05T10:20", ts("2024-01-05T10:20:00+00:00")),
        ("2024-01-05T10:20:30", ts("2024-01-05T10:20:30+00:00")),
        ("2024-01-05T10:20:30+02:00", ts("2024-01-05T08:20:30+00:00")),
        ("2024-01-05T10:20:30+0230", ts("2024-01-05T07:50:30+00:00")),
        ("2024-01-05T10:20:30-05", ts("2024-01-05T15:20:30+00:00")),
        ("2024-01-05T10:20+01:00", ts("2024-01-05T09:20:00+00:00")),
        ("2024-01-05T00:00:00-00:00", ts("2024-01-05T00:00:00+00:00")),
        ("2024-01-05T10:20:30.5Z", ts("2024-01-05T10:20:30.500000+00:00")),
        ("2024-01-05T10:20:30.123456Z", ts("2024-01-05T10:20:30.123456+00:00")),
        ("2024-01-05T10:20:30.123456789Z", ts("2024-01-05T10:20:30.123456+00:00")),
        ("2024-01-05T10:20:30.999999999+23:59", ts("2024-01-04T10:21:30.999999+00:00")),
        ("1969-12-31T23:59:59.9999999Z", -1),
        ("2024-02-29T00:00:00Z", ts("2024-02-29T00:00:00+00:00")),
        ("1900-02-28T00:00:00Z", ts("1900-02-28T00:00:00+00:00")),
        ("2000-02-29T00:00:00Z", ts("2000-02-29T00:00:00+00:00")),
        ("0001-01-01T00:00:00Z", ref.MIN_TIMESTAMP_US),
        ("9999-12-31T23:59:59.999999Z", ref.MAX_TIMESTAMP_US),
        # not in the grammar, or not a real date/time
        ("2024-02-30T00:00:00Z", "bad_timestamp"),
        ("2023-02-29T00:00:00Z", "bad_timestamp"),
        ("1900-02-29T00:00:00Z", "bad_timestamp"),
        ("2024-13-01T00:00:00Z", "bad_timestamp"),
        ("2024-00-10T00:00:00Z", "bad_timestamp"),
        ("2024-01-00T00:00:00Z", "bad_timestamp"),
        ("2024-01-05T24:00:00Z", "bad_timestamp"),
        ("2024-01-05T23:60:00Z", "bad_timestamp"),
        ("2024-01-05T23:59:60Z", "bad_timestamp"),
        ("2024-01-05T10:20:30+24:00", "bad_timestamp"),
        ("2024-01-05T10:20:30+05:60", "bad_timestamp"),
        ("2024-01-05T10:20:30+5", "bad_timestamp"),
        ("2024-01-05T10:20:30+05:", "bad_timestamp"),
        ("2024-01-05T10:20:30.Z", "bad_timestamp"),
        ("2024-01-05T10:20:30.1234567890Z", "bad_timestamp"),
        ("2024-01-05T10:20:30ZZ", "bad_timestamp"),
        ("2024-01-05t10:20:30Z", "bad_timestamp"),
        ("2024-01-05T10:20:30 Z", "bad_timestamp"),
        ("2024-01-05T10:20:30Z\n", "bad_timestamp"),
        (" 2024-01-05T10:20:30Z", "bad_timestamp"),
        ("2024-01-05T1:20:30Z", "bad_timestamp"),
        ("2024-01-05", "bad_timestamp"),
        ("2024-01-05T10", "bad_timestamp"),
        ("20240105T102030Z", "bad_timestamp"),
        ("+2024-01-05T10:20:30Z", "bad_timestamp"),
        ("2024-01-05T10:20:30.123,Z", "bad_timestamp"),
        ("\uff12\uff10\uff12\uff14-01-05T10:20:30Z", "bad_timestamp"),  # full-width digits
        # outside years 1..9999 in UTC
        ("0000-06-15T00:00:00Z", "out_of_range"),
        ("0000-02-29T00:00:00Z", "out_of_range"),
        ("0000-02-30T00:00:00Z", "bad_timestamp"),
        ("0001-01-01T00:30:00+01:00", "out_of_range"),
        ("9999-12-31T23:30:00-01:00", "out_of_range"),
    ],
)
def test_iso_timestamps(make_contract: Any, text: str, expected: Any) -> None:
    assert check_json(one_field(make_contract, type="timestamp"), text) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"1700000000", 1_700_000_000_000_000),
        (b"-1700000000", -1_700_000_000_000_000),
        (b"99999999999", 99_999_999_999_000_000),  # just below the threshold: seconds
        (b"100000000000", 100_000_000_000_000),  # the threshold: milliseconds
        (b"-100000000000", -100_000_000_000_000),
        (b"1700000000123", 1_700_000_000_123_000),
        (b"0", 0),
        (b"1700000000.5", 1_700_000_000_500_000),
        (b"1.7e9", 1_700_000_000_000_000),
        (b"1700000000123.9", 1_700_000_000_123_900),
        (b"-0.0000015", -1),  # truncated toward zero
        (b"0.1", 100_000),
        (b"1.0000001", 1_000_000),  # float64: 1.0000001 * 1e6 = 1000000.0999999999
        (b"253402300799", 253_402_300_799_000),  # >= 1e11: milliseconds (1978)
        (b"253402300799999", 253_402_300_799_999_000),  # the last millisecond of 9999
        (b"253402300800000", "out_of_range"),
        (b"-62135596800000", ref.MIN_TIMESTAMP_US),
        (b"-62135596800001", "out_of_range"),
        (b"9223372036854775807", "out_of_range"),
        (b"99999999999999999999999", "out_of_range"),
        (b"1e300", "out_of_range"),
        (b"1e400", "out_of_range"),
        (b"-1e400", "out_of_range"),
    ],
)
def test_epoch_timestamps(make_contract: Any, body: bytes, expected: Any) -> None:
    contract = one_field(make_contract, type="timestamp")
    batch = validate_schema(parse_events(b'{"v": ' + body + b"}"), contract)
    assert _outcome(batch) == expected


def test_one_rejection_per_record_first_field_in_contract_order(make_contract: Any) -> None:
    contract = make_contract(
        {"name": "a", "type": "int", "required": True},
        {"name": "b", "type": "string", "max_length": 1},
        {"name": "c", "type": "bool"},
        extra_fields="reject",
    )
    body = (
        b'{"zz": 0, "c": 1, "b": "long", "a": "x"}\n'
        b'{"zz": 0, "c": 1, "b": "long", "a": 1}\n'
        b'{"zz": 0, "c": 1, "b": "", "a": 1}\n'
        b'{"zz": 0, "yy": 0, "c": true, "b": "", "a": 1}\n'
        b'{"yy": 0, "zz": 0, "c": true, "b": "", "a": 1}\n'
        b'{"c": true, "b": "", "a": 1}\n'
    )
    batch = validate_schema(parse_events(body), contract)
    assert [(r.record_index, r.field, r.reason) for r in batch.rejected] == [
        (0, "a", "wrong_type"),
        (1, "b", "too_long"),
        (2, "c", "wrong_type"),
        (3, "zz", "extra_field"),
        (4, "yy", "extra_field"),
    ]
    assert batch.rows == [{"a": 1, "b": "", "c": True}]
    assert batch.rejected[0].raw == '{"zz": 0, "c": 1, "b": "long", "a": "x"}'
    assert [r.line for r in batch.rejected] == [1, 2, 3, 4, 5]


def test_extra_fields_ignored_by_default_and_csv_extra_columns(make_contract: Any) -> None:
    fields = {"name": "a", "type": "int"}
    body = b"a,extra\n1,\n2,x\n"
    ignored = validate_schema(parse_events(body), make_contract(fields))
    assert ignored.rows == [{"a": 1}, {"a": 2}]
    rejected = validate_schema(parse_events(body), make_contract(fields, extra_fields="reject"))
    assert [(r.field, r.reason, r.raw) for r in rejected.rejected] == [
        ("extra", "extra_field", "1,"),
        ("extra", "extra_field", "2,x"),
    ]


def test_parse_and_validate_rejections_merge_in_input_order(make_contract: Any) -> None:
    contract = make_contract({"name": "a", "type": "int", "required": True})
    body = b'{"a": "x"}\nbad\n{"a": 1}\n{}\n[]\n'
    batch = validate_schema(parse_events(body), contract)
    assert [(r.record_index, r.line, r.reason) for r in batch.rejected] == [
        (0, 1, "wrong_type"),
        (1, 2, "invalid_json"),
        (3, 4, "missing"),
        (4, 5, "not_an_object"),
    ]
    assert batch.rows == [{"a": 1}]


# --------------------------------------------------------------------------------------------
# Transform, deduplicate, Arrow


EVENT = {
    "event_id": "e1",
    "user_id": "u1",
    "event_type": "purchase",
    "event_timestamp": "2024-01-05T10:20:30Z",
}


def events_body(*events: dict[str, Any]) -> bytes:
    return "\n".join(json.dumps({**EVENT, **event}) for event in events).encode()


def test_transform_columns(events_contract: ContractSpec) -> None:
    body = events_body(
        {"event_type": "  Add_To_Cart\t", "event_value": 3, "properties": {"k": [1]}},
        {"event_id": "e2", "event_timestamp": "1969-12-31T23:59:59.999999Z"},
        {"event_id": "e3", "event_timestamp": -86_400},
    )
    validated = validate_schema(parse_events(body), events_contract)
    assert validated.rejected == []
    batch = transform_batch(validated, job_id="job-7", source="api", ingested_at_us=123)
    assert list(batch.rows[0]) == [
        "event_id",
        "user_id",
        "event_type",
        "event_timestamp",
        "event_value",
        "product_id",
        "properties",
        "event_date",
        "_job_id",
        "_ingested_at",
        "_source",
    ]
    first = batch.rows[0]
    assert first["event_type"] == "add_to_cart"
    assert first["event_value"] == 3.0
    assert first["properties"] == '{"k":[1]}'
    assert first["event_date"] == (date(2024, 1, 5) - date(1970, 1, 1)).days
    assert (first["_job_id"], first["_ingested_at"], first["_source"]) == ("job-7", 123, "api")
    assert [row["event_date"] for row in batch.rows[1:]] == [-1, -1]  # floor, not truncation
    assert validated.rows[0]["event_type"] == "  Add_To_Cart\t"  # validate keeps it as sent


def test_transform_default_ingested_at_is_now(events_contract: ContractSpec) -> None:
    before = time.time_ns() // 1000
    batch = transform_batch(validate_schema(parse_events(events_body({})), events_contract))
    after = time.time_ns() // 1000
    assert before <= batch.rows[0]["_ingested_at"] <= after
    assert batch.rows[0]["_job_id"] == ""
    assert batch.rows[0]["_source"] == ""


def transformed(contract: ContractSpec, body: bytes) -> ref.TransformedBatch:
    return transform_batch(validate_schema(parse_events(body), contract), ingested_at_us=0)


def test_deduplicate_keeps_the_first_within_a_batch(events_contract: ContractSpec) -> None:
    body = events_body(
        {"event_id": "a", "user_id": "first"},
        {"event_id": "b"},
        {"event_id": "a", "user_id": "second"},
        {"event_id": "c"},
        {"event_id": "b"},
    )
    batch = deduplicate(transformed(events_contract, body))
    assert [(r["event_id"], r["user_id"]) for r in batch.rows] == [
        ("a", "first"),
        ("b", "u1"),
        ("c", "u1"),
    ]
    assert batch.num_duplicates == 2
    again = deduplicate(batch)
    assert (len(again.rows), again.num_duplicates) == (3, 2)


def test_dedup_key_compares_transformed_values(make_contract: Any) -> None:
    contract = make_contract(
        {"name": "kind", "type": "string", "enum": ["a", "b"], "required": True, "nullable": False},
        {"name": "n", "type": "int", "required": True, "nullable": False},
        dedup_key=["kind", "n"],
    )
    body = b'{"kind": "A", "n": 1}\n{"kind": " a ", "n": 1}\n'
    body += b'{"kind": "a", "n": 2}\n{"kind": "b", "n": 2}\n'
    batch = deduplicate(transformed(contract, body))
    assert [(r["kind"], r["n"]) for r in batch.rows] == [("a", 1), ("a", 2), ("b", 2)]
    assert batch.num_duplicates == 1


def test_deduplicator_remembers_across_batches_fifo(events_contract: ContractSpec) -> None:
    def batch_of(*ids: str) -> ref.TransformedBatch:
        return transformed(events_contract, events_body(*({"event_id": i} for i in ids)))

    dedup = Deduplicator(capacity=3)
    assert (dedup.capacity, len(dedup)) == (3, 0)
    out = dedup.deduplicate(batch_of("a", "b", "a"))
    assert ([r["event_id"] for r in out.rows], out.num_duplicates) == (["a", "b"], 1)
    assert len(dedup) == 2
    out = dedup.deduplicate(batch_of("b", "c", "d"))  # remembers a, b, c, d -> evicts a
    assert ([r["event_id"] for r in out.rows], out.num_duplicates) == (["c", "d"], 1)
    assert len(dedup) == 3
    out = dedup.deduplicate(batch_of("a", "b", "d"))  # a was forgotten; b and d are known
    assert ([r["event_id"] for r in out.rows], out.num_duplicates) == (["a"], 2)
    # window now: c, d, a (b evicted, as the oldest)
    out = dedup.deduplicate(batch_of("b", "c"))
    assert [r["event_id"] for r in out.rows] == ["b"]


def test_deduplicator_checks_against_the_window_as_of_the_batch_start(
    events_contract: ContractSpec,
) -> None:
    dedup = Deduplicator(capacity=2)
    dedup.deduplicate(transformed(events_contract, events_body({"event_id": "a"})))
    ids = ["x", "y", "z", "a"]
    out = dedup.deduplicate(
        transformed(events_contract, events_body(*({"event_id": i} for i in ids)))
    )
    assert [r["event_id"] for r in out.rows] == ["x", "y", "z"]
    assert len(dedup) == 2
    with pytest.raises(ValueError, match="capacity"):
        Deduplicator(capacity=0)


def test_to_arrow_schema_and_values(events_contract: ContractSpec) -> None:
    body = events_body(
        {"event_value": 2.5, "properties": {"a": 1}, "product_id": "p"},
        {"event_id": "e2", "event_timestamp": 1_700_000_000},
    )
    batch = transform_batch(
        validate_schema(parse_events(body), events_contract),
        job_id="j",
        source="s",
        ingested_at_us=1_700_000_000_000_001,
    )
    table = to_arrow(batch)
    utc_us = pa.timestamp("us", tz="UTC")
    assert [(f.name, f.type, f.nullable) for f in table.schema] == [
        ("event_id", pa.string(), False),
        ("user_id", pa.string(), False),
        ("event_type", pa.string(), False),
        ("event_timestamp", utc_us, False),
        ("event_value", pa.float64(), True),
        ("product_id", pa.string(), True),
        ("properties", pa.string(), True),
        ("event_date", pa.date32(), False),
        ("_job_id", pa.string(), False),
        ("_ingested_at", utc_us, False),
        ("_source", pa.string(), False),
    ]
    assert table.schema == ref.arrow_schema(events_contract)
    rows = table.to_pylist()
    assert rows[0]["event_timestamp"] == datetime(2024, 1, 5, 10, 20, 30, tzinfo=UTC)
    assert rows[0]["event_date"] == date(2024, 1, 5)
    assert rows[0]["properties"] == '{"a":1}'
    assert rows[1]["event_timestamp"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert rows[1]["event_value"] is None
    assert rows[1]["_ingested_at"] == datetime(2023, 11, 14, 22, 13, 20, 1, tzinfo=UTC)
    assert (
        to_arrow(transform_batch(validate_schema(parse_events(b""), events_contract))).num_rows == 0
    )


def test_all_types_to_arrow(make_contract: Any) -> None:
    contract = make_contract(
        {"name": "s", "type": "string"},
        {"name": "i", "type": "int", "nullable": False},
        {"name": "f", "type": "float"},
        {"name": "b", "type": "bool"},
        {"name": "d", "type": "date", "nullable": False},
        {"name": "t", "type": "timestamp"},
        {"name": "j", "type": "json"},
        partition={"field": "d", "granularity": "day", "column": "day"},
    )
    body = b"s,i,f,b,d,t,j\nx,-5,0.25,True,2024-01-05,1.5,[1]\n,7,,,1970-01-01,,\n"
    table = to_arrow(transformed(contract, body))
    assert table.schema.field("day").type == pa.date32()
    assert table.schema.field("day").nullable is False
    assert table.schema.field("i").nullable is False
    assert table.column("day").to_pylist() == [date(2024, 1, 5), date(1970, 1, 1)]
    assert table.slice(0, 1).to_pylist()[0] | {"_ingested_at": None} == {
        "s": "x",
        "i": -5,
        "f": 0.25,
        "b": True,
        "d": date(2024, 1, 5),
        "t": datetime(1970, 1, 1, 0, 0, 1, 500_000, tzinfo=UTC),
        "j": "[1]",
        "day": date(2024, 1, 5),
        "_job_id": "",
        "_ingested_at": None,
        "_source": "",
    }
    assert table.slice(1, 1).to_pylist()[0]["s"] is None


def test_rejected_to_arrow() -> None:
    rejected = parse_events(b'{"a": 1}\nbad\n[1]\n').rejected
    table = rejected_to_arrow(rejected)
    assert [(f.name, f.type, f.nullable) for f in table.schema] == [
        ("record_index", pa.int64(), False),
        ("line", pa.int64(), False),
        ("field", pa.string(), True),
        ("reason", pa.string(), False),
        ("message", pa.string(), False),
        ("raw", pa.string(), False),
    ]
    assert table.column("record_index").to_pylist() == [1, 2]
    assert table.column("reason").to_pylist() == ["invalid_json", "not_an_object"]
    assert table.column("field").to_pylist() == [None, None]
    assert table.column("raw").to_pylist() == ["bad", "[1]"]
    assert rejected_to_arrow([]).num_rows == 0


def test_process_end_to_end(events_contract: ContractSpec) -> None:
    lines = [
        events_body({"event_id": "a", "event_type": "LOGIN"}),
        b'{"event_id": "b"}',
        events_body({"event_id": "a"}),
        b"not json",
        events_body({"event_id": "c", "event_value": -1}),
        events_body({"event_id": "d", "event_timestamp": 1_704_450_030_000}),
    ]
    body = gzip.compress(b"\n".join(lines))
    dedup = Deduplicator(capacity=10)
    batch = process(body, events_contract, job_id="j", source="s", deduplicator=dedup)
    assert [r["event_id"] for r in batch.rows] == ["a", "d"]
    assert batch.rows[0]["event_type"] == "login"
    assert batch.num_duplicates == 1
    assert [(r.record_index, r.field, r.reason) for r in batch.rejected] == [
        (1, "user_id", "missing"),
        (3, None, "invalid_json"),
        (4, "event_value", "out_of_range"),
    ]
    received = len(lines)
    assert len(batch.rows) + len(batch.rejected) + batch.num_duplicates == received
    again = process(body, events_contract, deduplicator=dedup)
    assert (again.rows, again.num_duplicates) == ([], 3)
    assert len(process(body, events_contract).rows) == 2


def test_users_contract_dedup_on_two_columns(users_contract: ContractSpec) -> None:
    user = {"user_id": "u", "user_name": "n", "created_at": "2024-01-01T00:00:00Z"}
    body = "\n".join(
        json.dumps({**user, "updated_at": updated})
        for updated in ["2024-01-02T00:00:00Z", "2024-01-02T01:00:00+01:00", 1_704_153_600]
    ).encode()
    batch = deduplicate(transformed(users_contract, body))
    assert len(batch.rows) == 1
    assert batch.num_duplicates == 2
