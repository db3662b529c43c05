"""The Rust core against the Python reference, on messy generated input.

Hypothesis builds bodies from records that are mostly plausible and often broken (wrong
types, bad timestamps, enum variants, missing and extra fields, nested JSON, duplicates),
serialises them as NDJSON, a JSON array or CSV, and sometimes damages the bytes (truncation,
invalid UTF-8, garbage lines, a BOM, gzip). Both implementations must then agree on every valid
row, every rejection (record, line, field, reason, raw text) and every duplicate.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import data_processor_rs as rs
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlake.contracts import ContractSpec, load_contract
from eventlake.processing import reference as ref
from tests.hypothesis_profiles import examples

from .conftest import make_rust_contract

EVENTS = load_contract("events")
USERS = load_contract("users")
ALL_TYPES = make_rust_contract(
    {"name": "k", "type": "string", "required": True, "nullable": False, "min_length": 1},
    {"name": "n", "type": "int", "min": -5, "max": 1000},
    {"name": "x", "type": "float", "nullable": False, "min": -1.5, "max": 1e6},
    {"name": "flag", "type": "bool"},
    {"name": "day", "type": "date"},
    {"name": "at", "type": "timestamp", "required": True, "nullable": False},
    {"name": "doc", "type": "json"},
    {"name": "tag", "type": "string", "enum": ["red", "green"], "max_length": 8},
    dedup_key=["k", "at"],
    extra_fields="reject",
    partition={"field": "at", "granularity": "day", "column": "at_day"},
)
EDGES = make_rust_contract(
    {"name": "j", "type": "json"},
    {"name": "n", "type": "int", "min": 9223372036854775808},
)
CONTRACTS = {"events": EVENTS, "users": USERS, "all_types": ALL_TYPES, "edges": EDGES}
SPECS = {name: ContractSpec.from_rust(contract) for name, contract in CONTRACTS.items()}
INGESTED_AT = 1_700_000_000_000_000

# -- values --------------------------------------------------------------------------------

timestamps = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
    st.sampled_from(
        [
            "2026-11-03T10:15:30Z",
            "2026-11-03T10:15:30.1234567+02:00",
            "2026-11-03T10:15+0130",
            "2026-11-03T10:15:30-05",
            "2026-02-30T00:00:00Z",
            "2026-11-03T24:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999-01:00",
            "2026-11-03",
            "yesterday",
            " 2026-11-03T10:15:30Z",
            "2026-11-03t10:15:30Z",
        ]
    ),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e14, max_value=1e14),
    st.sampled_from([99_999_999_999, 100_000_000_000, 253_402_300_799, 2**63, -(2**63) - 1]),
)
enum_like = st.sampled_from(
    ["page_view", " Page_View ", "PURCHASE", "purchase\t", "red", "GREEN ", "blue", "\x0bred", ""]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    enum_like,
    timestamps,
    st.sampled_from(["2024-02-29", "2023-02-29", "0000-01-01", "12", "1.5", "true", "null"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
FIELD_NAMES = sorted({name for spec in SPECS.values() for name in spec.field_names} | {"extra"})


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A record that is right often enough to exercise valid paths, and wrong in every way."""
    base = {
        "event_id": draw(st.sampled_from(["e1", "e2", "e3", "", "x" * 70])),
        "user_id": draw(st.sampled_from(["u1", "u2", "x" * 65])),
        "event_type": draw(enum_like),
        "event_timestamp": draw(timestamps),
        "event_value": draw(st.one_of(st.none(), st.floats(-10, 1e10), st.integers(-3, 10))),
        "product_id": draw(st.one_of(st.none(), st.just("p1"))),
        "properties": draw(json_values),
        "user_name": draw(st.text(max_size=6)),
        "created_at": draw(timestamps),
        "updated_at": draw(timestamps),
        "k": draw(st.sampled_from(["a", "b", ""])),
        "n": draw(st.one_of(st.integers(-10, 1010), st.just(2**63), st.floats(-1, 1))),
        "x": draw(st.one_of(st.floats(-2, 2e6), st.integers(-2, 10), st.just(1e400))),
        "flag": draw(st.booleans()),
        "day": draw(st.sampled_from(["2024-02-29", "2023-02-29", "0000-03-01", "2024-1-01"])),
        "at": draw(timestamps),
        "doc": draw(json_values),
        "tag": draw(enum_like),
    }
    record = {}
    for name, value in base.items():
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue  # missing
        record[name] = draw(scalars) if choice == 1 else value  # 1 in 10: a random type
    if draw(st.integers(0, 9)) == 0:
        record["extra"] = draw(scalars)
    return record


def to_ndjson_line(record: dict[str, Any], rng: st.DrawFn) -> str:
    text = json.dumps(record, ensure_ascii=rng(st.booleans()))
    if rng(st.integers(0, 19)) == 0 and record:
        key = next(iter(record))  # a duplicated key, written by hand
        text = text[:-1] + f', "{key}": 1}}' if len(record) else text
    return text


def csv_body(rows: list[dict[str, Any]], draw: st.DrawFn) -> bytes:
    header = draw(st.permutations(FIELD_NAMES))[: draw(st.integers(1, len(FIELD_NAMES)))]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    for row in rows:
        cells = []
        for name in header:
            value = row.get(name)
            if value is None:
                cells.append("")
            elif isinstance(value, (dict, list)):
                cells.append(json.dumps(value))
            elif isinstance(value, bool):
                cells.append(draw(st.sampled_from(["true", "TRUE", "False"])) if value else "false")
            else:
                cells.append(str(value))
        if draw(st.integers(0, 14)) == 0:
            cells = cells[:-1]  # a ragged row
        writer.writerow(cells)
    return out.getvalue().encode()


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    rows = draw(st.lists(records(), max_size=8))
    fmt = draw(st.sampled_from(["ndjson", "json", "csv"]))
    if fmt == "ndjson":
        lines = [to_ndjson_line(r, draw) for r in rows]
        for _ in range(draw(st.integers(0, 2))):
            position = draw(st.integers(0, len(lines)))
            lines.insert(
                position, draw(st.sampled_from(["", "  ", "[1]", '"s"', "{", "{}x", "nul"]))
            )
        body = "\n".join(lines).encode()
    elif fmt == "json":
        body = ("[" + ",\n ".join(to_ndjson_line(r, draw) for r in rows) + "]").encode()
    else:
        body = csv_body(rows, draw)
    damage = draw(st.integers(0, 9))
    if damage == 0 and body:
        body = body[: draw(st.integers(0, len(body) - 1))]  # truncated
    elif damage == 1 and body:
        at = draw(st.integers(0, len(body)))
        body = (
            body[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
            + body[at:]
        )
    elif damage == 2:
        body += draw(st.sampled_from([b"garbage", b"\n}", b" ] ", b"\r\n"]))
    if draw(st.integers(0, 9)) == 0:
        body = b"\xef\xbb\xbf" + body
    if draw(st.integers(0, 9)) == 0:
        body = gzip.compress(body)
    requested = draw(st.sampled_from(["auto", "auto", fmt]))
    return body, requested


# -- comparison ------------------------------------------------------------------------------


def normalised_rows(table: pa.RecordBatch, contract: ContractSpec) -> list[dict[str, Any]]:
    json_fields = [f.name for f in contract.fields if f.type == "json"]
    rows = table.to_pylist()
    for row in rows:
        for name in json_fields:
            if row[name] is not None:
                row[name] = json.loads(row[name])  # same value; escapes may be written differently
    return rows


def normalised_rejections(table: pa.RecordBatch, fmt: str) -> list[tuple[Any, ...]]:
    out = []
    for r in table.to_pylist():
        raw = r["raw"]
        if fmt == "csv":
            raw = list(csv.reader([raw])) if raw else []  # re-encoded: compare the cells
        out.append((r["record_index"], r["line"], r["field"], r["reason"], raw))
    return out


def run_both(body: bytes, fmt: str, contract_name: str, **limits: int) -> None:
    contract, spec = CONTRACTS[contract_name], SPECS[contract_name]
    try:
        expected = ref.parse_events(body, fmt, **limits)
    except ref.InputError as error:
        reference_reason = error.reason
    else:
        reference_reason = None
    if reference_reason is not None:
        with pytest.raises(rs.InputError) as refused:
            rs.parse_events(body, fmt, **limits)
        assert refused.value.reason == reference_reason
        return
    # The four calls looked at only at their end (batches are computed when first asked for:
    # this chain runs as the fused path does), checked against the chain looked at every step.
    unobserved = rs.deduplicate(
        rs.transform_batch(
            rs.validate_schema(rs.parse_events(body, fmt, **limits), contract),
            job_id="j",
            source="s",
            ingested_at_us=INGESTED_AT,
        )
    )
    parsed = rs.parse_events(body, fmt, **limits)
    assert (parsed.format, len(parsed)) == (expected.format, len(expected.records))

    validated = rs.validate_schema(parsed, contract)
    expected_valid = ref.validate_schema(expected, spec)
    transformed = rs.deduplicate(
        rs.transform_batch(validated, job_id="j", source="s", ingested_at_us=INGESTED_AT)
    )
    expected_out = ref.deduplicate(
        ref.transform_batch(expected_valid, job_id="j", source="s", ingested_at_us=INGESTED_AT)
    )
    assert normalised_rejections(transformed.rejected, expected.format) == normalised_rejections(
        ref.rejected_to_arrow(expected_out.rejected), expected.format
    )
    assert transformed.to_arrow().schema == ref.arrow_schema(spec)
    assert normalised_rows(transformed.to_arrow(), spec) == normalised_rows(
        ref.to_arrow(expected_out), spec
    )
    assert transformed.num_duplicates == expected_out.num_duplicates
    assert transformed.num_received == len(expected.records) + len(expected.rejected)

    fused = rs.process(
        body, contract, format=fmt, job_id="j", source="s", ingested_at_us=INGESTED_AT, **limits
    )
    assert fused.to_arrow() == transformed.to_arrow(), "the fused path must match the steps"
    assert fused.rejected == transformed.rejected
    assert unobserved.to_arrow() == transformed.to_arrow(), "looking in between changes nothing"
    assert unobserved.rejected == transformed.rejected
    assert unobserved.num_duplicates == transformed.num_duplicates


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        f'j\n"{nested(64)}"\n"{nested(65)}"\n'.encode(),  # CSV json cells at the depth limit
        b"j,n\n\xc3,\xa9\n",  # a character split across two cells
        b'{"n": 9223372036854775807}\n{"n": -9223372036854775808}\n',  # min of 2**63
        b"\n" * 1000 + b'{"j": 1}' + b" \r\n" * 1000,  # runs of blank lines
        b'{"j": "' + b"\xff" * 70_000 + b'"}',  # raw text capped after U+FFFD
    ],
)
def test_agree_on_edge_cases(body: bytes) -> None:
    run_both(body, "auto", "edges")


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies(), contract_name=st.sampled_from(["all_types", "events", "users"]))
def test_rust_and_reference_agree(body: tuple[bytes, str], contract_name: str) -> None:
    run_both(body[0], body[1], contract_name)


@settings(max_examples=examples(150), deadline=None)
@given(body=bodies(), max_record_bytes=st.integers(1, 300))
def test_agree_under_a_small_record_limit(body: tuple[bytes, str], max_record_bytes: int) -> None:
    run_both(body[0], body[1], "events", max_record_bytes=max_record_bytes)


@settings(max_examples=examples(300), deadline=None)
@given(data=st.binary(max_size=64), fmt=st.sampled_from(["auto", "json", "ndjson", "csv"]))
def test_agree_on_arbitrary_bytes(data: bytes, fmt: str) -> None:
    run_both(data, fmt, "all_types")


@settings(max_examples=examples(100), deadline=None)
@given(
    batches=st.lists(st.lists(st.sampled_from("abcdefg"), max_size=6), max_size=5),
    capacity=st.integers(1, 5),
)
def test_deduplicator_windows_agree(batches: list[list[str]], capacity: int) -> None:
    rust_dedup, ref_dedup = rs.Deduplicator(capacity), ref.Deduplicator(capacity)
    fused_dedup = rs.Deduplicator(capacity)  # the same window, through the one-pass path
    for ids in batches:
        body = "\n".join(
            json.dumps(
                {
                    "event_id": i,
                    "user_id": "u",
                    "event_type": "login",
                    "event_timestamp": "2026-11-03T10:15:30Z",
                }
            )
            for i in ids
        ).encode()
        got = rust_dedup.deduplicate(rs.transform_batch(rs.validate_schema(rs.parse_events(body))))
        expected = ref_dedup.deduplicate(
            ref.transform_batch(ref.validate_schema(ref.parse_events(body), SPECS["events"]))
        )
        assert got.to_arrow().column("event_id").to_pylist() == [
            r["event_id"] for r in expected.rows
        ]
        assert got.num_duplicates == expected.num_duplicates
        assert len(rust_dedup) == len(ref_dedup)
        fused = rs.process(body, deduplicator=fused_dedup)
        assert fused.to_arrow().column("event_id") == got.to_arrow().column("event_id")
        assert (fused.num_duplicates, len(fused_dedup)) == (got.num_duplicates, len(rust_dedup))
