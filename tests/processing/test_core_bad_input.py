"""The Rust core at its Python boundary, fed malformed, oversized and hostile input: every bad
record comes back rejected with a reason, every unusable body as a named exception with
structured fields; nothing panics across the boundary, nothing hangs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import data_processor_rs as rs
import pyarrow as pa
import pytest

GOOD = {
    "event_id": "e1",
    "user_id": "u1",
    "event_type": "login",
    "event_timestamp": "2026-11-03T10:15:30Z",
}


def line(**changes: object) -> bytes:
    return json.dumps(GOOD | changes).encode()


def outcome(body: bytes, **kwargs: object) -> tuple[int, list[tuple[int, str | None, str]]]:
    out = rs.process(body, **kwargs)  # type: ignore[arg-type]
    return len(out), [(r["line"], r["field"], r["reason"]) for r in out.rejected.to_pylist()]


def test_truncated_json_array_keeps_the_records_before_the_cut() -> None:
    body = b"[" + line() + b",\n" + line(event_id="e2") + b",\n" + line(event_id="e3")[:20]
    assert outcome(body) == (2, [(3, None, "invalid_json")])


def test_trailing_garbage_is_rejected_not_ignored() -> None:
    kept, rejected = outcome(b"[" + line() + b"] }{")
    assert (kept, rejected) == (1, [(1, None, "invalid_json")])


def test_deep_nesting_is_rejected_without_a_crash() -> None:
    deep = b'{"properties": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    assert outcome(line() + b"\n" + deep) == (1, [(2, None, "too_deep")])


def test_huge_strings_hit_the_record_limit() -> None:
    huge = line(event_id="x" * 2_000_000)
    kept, rejected = outcome(huge + b"\n" + line(event_id="e2"))
    assert (kept, rejected) == (1, [(1, None, "too_large")])
    out = rs.process(huge)
    assert len(out.rejected.column("raw")[0].as_py()) <= 65_536, "raw text is capped"


def test_invalid_utf8_and_bom() -> None:
    broken = b"\xef\xbb\xbf" + line() + b'\n{"event_id": "\xff"}\n' + line(event_id="é\u00e9")
    assert outcome(broken) == (2, [(2, None, "invalid_utf8")])
    assert rs.process(broken).to_arrow().column("event_id").to_pylist() == ["e1", "éé"]


def test_csv_quoted_newlines_and_ragged_rows() -> None:
    body = (
        b"event_id,user_id,event_type,event_timestamp\n"
        b'e1,"a user\nwith a newline",login,2026-11-03T10:15:30Z\n'
        b"e2,u2\n"
        b"e3,u3,login,1700000000\n"
    )
    kept, rejected = outcome(body)
    assert (kept, rejected) == (2, [(4, None, "ragged_row")])
    assert rs.process(body).to_arrow().column("user_id")[0].as_py() == "a user\nwith a newline"


def test_numbers_out_of_range_and_strings_for_numbers() -> None:
    body = b"\n".join(
        [
            line(event_value=-1),
            line(event_value="12.5"),
            line(event_timestamp=10**30),
            b'{"event_id": "e4", "user_id": "u", "event_type": "login", '
            b'"event_timestamp": "2026-11-03T10:15:30Z", "event_value": 1e999}',
        ]
    )
    assert outcome(body) == (
        0,
        [
            (1, "event_value", "out_of_range"),
            (2, "event_value", "wrong_type"),
            (3, "event_timestamp", "out_of_range"),
            (4, "event_value", "out_of_range"),
        ],
    )


def test_corrupt_and_oversized_gzip_raise_input_error() -> None:
    with pytest.raises(rs.InputError) as corrupt:
        rs.parse_events(b"\x1f\x8b" + b"\x00" * 20)
    assert corrupt.value.reason == "bad_gzip"
    bomb = gzip.compress(b" " * 20_000_000)
    with pytest.raises(rs.InputError) as too_large:
        rs.parse_events(bomb, max_decompressed_bytes=1_000_000)
    assert too_large.value.reason == "too_large"
    assert isinstance(too_large.value, ValueError), "errors subclass ValueError"


def test_unknown_format_and_bad_csv_header() -> None:
    with pytest.raises(rs.InputError) as unknown:
        rs.parse_events(b"x", format="xml")  # type: ignore[arg-type]
    assert unknown.value.reason == "unknown_format"
    with pytest.raises(rs.InputError) as header:
        rs.parse_events(b"a,a\n1,2\n", format="csv")
    assert header.value.reason == "bad_csv_header"


def test_a_contract_with_a_typo_names_file_and_field(tmp_path: Path) -> None:
    contract = tmp_path / "events.yaml"
    contract.write_text(
        "name: events\ndedup_key: [event_id]\nfields:\n"
        "  - {name: event_id, type: string, required: true, nullable: false}\n"
        "  - {name: event_value, type: flaot}\n"
    )
    with pytest.raises(rs.ContractError) as error:
        rs.validate_schema(rs.parse_events(line()), contract)
    assert error.value.path == str(contract)
    assert error.value.field == "fields[1].type"
    assert "flaot" in error.value.reason


def test_wrong_argument_types_are_type_errors_not_crashes() -> None:
    with pytest.raises(TypeError):
        rs.parse_events("a str, not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rs.validate_schema(rs.parse_events(line()), 42)  # type: ignore[arg-type]


def test_arrow_leaves_through_the_c_data_interface() -> None:
    out = rs.process(line() + b"\n" + line(event_id="e2"))
    batch = pa.record_batch(out)  # the PyCapsule protocol, no to_arrow() needed
    assert batch.num_rows == 2
    assert batch.schema == rs.Contract.default_events().arrow_schema()


def test_deduplicator_state_survives_a_restart(tmp_path: Path) -> None:
    dedup = rs.Deduplicator(capacity=100)
    assert len(dedup.deduplicate(rs.process(line()))) == 1
    state = tmp_path / "dedup.bin"
    dedup.save(state)
    restored = rs.Deduplicator.load(state)
    again = restored.deduplicate(rs.process(line()))
    assert (len(again), again.num_duplicates) == (0, 1)
    state.write_bytes(b"not a state")
    with pytest.raises(rs.InputError) as bad:
        rs.Deduplicator.load(state)
    assert bad.value.reason == "bad_state"
