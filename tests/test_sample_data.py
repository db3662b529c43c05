"""The sample-data generator: determinism, counts, formats, and that every record is what it says.

The checks here do not trust the generator: files are read back with the standard library and
every record is classified by a small, independent reading of docs/processing.md.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from eventlake.config import RESOURCES
from eventlake.sample_data import (
    EVENT_FIELDS,
    EVENT_TYPES,
    FORMATS,
    INVALID_VARIANTS,
    PRODUCT_FIELDS,
    USER_FIELDS,
    Format,
    GeneratedRecord,
    SampleConfig,
    generate_events,
    generate_products,
    generate_user_renames,
    generate_users,
    write_dataset,
    write_sample,
)
from eventlake.sample_data.events import _event_chunks

CONTRACTS = RESOURCES / "contracts"
SMALL = SampleConfig(events=3_000, users=200, products=50, renamed_users=5)
TEN_K = SampleConfig(events=10_000, users=500, products=100)
MID = SampleConfig(events=4_000, users=300, products=60, seed=3)


# --- an independent reading of docs/processing.md, for the events contract --------------------

_TS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}:\d{2}|[+-]\d{4}|[+-]\d{2})?"
)
_CSV_EPOCH = re.compile(r"-?[0-9]+|-?[0-9]+\.[0-9]+")
_CSV_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_MIN_US = (datetime(1, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
    microseconds=1
)
_MAX_US = (
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
) // timedelta(microseconds=1)


class _Object(dict[str, Any]):
    duplicate_key = False


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    obj.duplicate_key = len(obj) != len(pairs)
    return obj


def _no_constants(name: str) -> Any:
    raise ValueError(name)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _iso_micros(text: str) -> int | None:
    """µs since the epoch, or None when ``text`` is not in the timestamp grammar."""
    match = _TS.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        day_ = date(int(year), int(month), int(day))
    except ValueError:
        return None
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        return None
    offset_minutes = 0
    if offset and offset not in "Zz":
        digits = offset[1:].replace(":", "")
        oh, om = int(digits[:2]), int(digits[2:] or 0)
        if oh > 23 or om > 59:
            return None
        offset_minutes = (oh * 60 + om) * (-1 if offset[0] == "-" else 1)
    micros = int(((fraction or "") + "000000")[:6])
    moment = datetime(day_.year, day_.month, day_.day, int(hour), int(minute), int(second or 0))
    epoch = (moment - datetime(1970, 1, 1)) // timedelta(microseconds=1)
    return epoch + micros - offset_minutes * 60_000_000


def _timestamp_reason(value: Any, *, csv_cell: bool = False) -> tuple[str | None, int | None]:
    if csv_cell and _CSV_EPOCH.fullmatch(value):
        value = float(value) if "." in value else int(value)
    if isinstance(value, bool):
        return "wrong_type", None
    if isinstance(value, int | float):
        epoch = int(value * 1_000) if abs(value) >= 100_000_000_000 else int(value * 1_000_000)
        return (None, epoch) if _MIN_US <= epoch <= _MAX_US else ("out_of_range", None)
    if not isinstance(value, str):
        return "wrong_type", None
    micros = _iso_micros(value)
    return ("bad_timestamp", None) if micros is None else (None, micros)


def _string_reason(value: Any, min_length: int, max_length: int) -> str | None:
    if not isinstance(value, str):
        return "wrong_type"
    if len(value) < min_length:
        return "too_short"
    if len(value) > max_length:
        return "too_long"
    return None


def _validate(event: dict[str, Any], *, csv_cells: bool) -> tuple[str | None, str | None]:
    """(reason, field) of the first failing field of the events contract, or (None, None)."""
    required = {"event_id", "user_id", "event_type", "event_timestamp"}
    for name in EVENT_FIELDS:
        value = event.get(name)
        if csv_cells and value == "":
            value = None
        if name not in event and name in required:
            return "missing", name
        if value is None:
            if name in required:
                return "null", name
            continue
        reason: str | None = None
        if name in ("event_id", "user_id"):
            reason = _string_reason(value, 1, 64)
        elif name == "product_id":
            reason = _string_reason(value, 0, 64)
        elif name == "event_type":
            reason = _string_reason(value, 0, 10**9)
            if reason is None and value.strip().lower() not in EVENT_TYPES:
                reason = "not_in_enum"
        elif name == "event_timestamp":
            reason, _ = _timestamp_reason(value, csv_cell=csv_cells)
        elif name == "event_value":
            if csv_cells:
                value = float(value) if _CSV_FLOAT.fullmatch(value) else "not a number"
            if isinstance(value, bool) or not isinstance(value, int | float):
                reason = "wrong_type"
            elif not math.isfinite(value) or not 0 <= value <= 1_000_000_000:
                reason = "out_of_range"
        elif name == "properties" and csv_cells:
            try:
                json.loads(value, parse_constant=_no_constants)
            except ValueError:
                reason = "invalid_json"
        if reason is not None:
            return reason, name
    return None, None


def _classify_json(value: Any) -> tuple[str | None, str | None]:
    if _depth(value) > 64:
        return "too_deep", None
    if not isinstance(value, dict):
        return "not_an_object", None
    if isinstance(value, _Object) and value.duplicate_key:
        return "duplicate_key", None
    return _validate(value, csv_cells=False)


def _classify_line(line: str) -> tuple[str | None, str | None]:
    try:
        value = json.loads(line, object_pairs_hook=_object, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return "invalid_json", None
    return _classify_json(value)


def _classify_csv(row: list[str]) -> tuple[str | None, str | None]:
    if len(row) != len(EVENT_FIELDS):
        return "ragged_row", None
    return _validate(dict(zip(EVENT_FIELDS, row, strict=True)), csv_cells=True)


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8")


def _read_records(path: Path, fmt: Format) -> list[tuple[str | None, str | None, str | None]]:
    """(reason, field, event_id) for every record of an events file, read with the stdlib."""
    text = _read_text(path)
    out: list[tuple[str | None, str | None, str | None]] = []
    if fmt == "ndjson":
        assert text.endswith("\n")
        for line in text.split("\n")[:-1]:
            reason, field = _classify_line(line)
            out.append((reason, field, json.loads(line)["event_id"] if reason is None else None))
    elif fmt == "json":
        for value in json.loads(text, object_pairs_hook=_object):
            reason, field = _classify_json(value)
            out.append((reason, field, value["event_id"] if reason is None else None))
    else:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert tuple(rows[0]) == EVENT_FIELDS
        for row in rows[1:]:
            reason, field = _classify_csv(row)
            out.append((reason, field, row[0] if reason is None else None))
    return out


def _tally(records: list[tuple[str | None, str | None, str | None]]) -> dict[str, Any]:
    seen: set[str] = set()
    valid = duplicate = 0
    reasons: Counter[str] = Counter()
    for reason, _, event_id in records:
        if reason is not None:
            reasons[reason] += 1
        elif event_id in seen:
            duplicate += 1
        else:
            assert event_id is not None
            seen.add(event_id)
            valid += 1
    return {
        "records": len(records),
        "valid": valid,
        "duplicate": duplicate,
        "invalid": sum(reasons.values()),
        "invalid_by_reason": dict(sorted(reasons.items())),
    }


# --- tests --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ten_k() -> list[GeneratedRecord]:
    return list(generate_events(TEN_K))


def _contract_fields(name: str) -> tuple[str, ...]:
    text = (CONTRACTS / f"{name}.yaml").read_text(encoding="utf-8")
    return tuple(re.findall(r"^  - name: (\w+)$", text, flags=re.MULTILINE))


def test_field_lists_follow_the_contracts() -> None:
    assert _contract_fields("events") == EVENT_FIELDS
    assert _contract_fields("users") == USER_FIELDS
    assert _contract_fields("products") == PRODUCT_FIELDS
    events_yaml = (CONTRACTS / "events.yaml").read_text(encoding="utf-8")
    assert f"enum: [{', '.join(EVENT_TYPES)}]" in events_yaml


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = write_sample(tmp_path / "a", SMALL, FORMATS, gzip=True)
    second = write_sample(tmp_path / "b", SMALL, FORMATS, gzip=True)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(names) == 4 * len(FORMATS) + 1  # events, users, user_renames, products; manifest
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first.manifest == second.manifest
    assert [r.line for r in generate_events(SMALL)] == [r.line for r in generate_events(SMALL)]


def test_different_seed_gives_different_data() -> None:
    other = SampleConfig(events=SMALL.events, users=200, products=50, renamed_users=5, seed=7)
    assert [r.line for r in generate_events(SMALL)] != [r.line for r in generate_events(other)]
    assert generate_users(SMALL) != generate_users(other)
    assert generate_products(SMALL) != generate_products(other)


def test_users_and_products_do_not_depend_on_the_number_of_events() -> None:
    more = SampleConfig(events=50, users=200, products=50, renamed_users=5)
    assert generate_users(more) == generate_users(SMALL)
    assert generate_products(more) == generate_products(SMALL)


def test_exact_counts_of_duplicates_and_invalid_records(ten_k: list[GeneratedRecord]) -> None:
    kinds = Counter(record.kind for record in ten_k)
    assert kinds == {"valid": 9_700, "duplicate": 200, "invalid": 100}
    clean = SampleConfig(events=2_000, duplicate_share=0, invalid_share=0)
    assert Counter(record.kind for record in generate_events(clean)) == {"valid": 2_000}
    assert list(generate_events(SampleConfig(events=0))) == []


def test_every_invalid_kind_is_present_and_has_its_reason(
    ten_k: list[GeneratedRecord],
) -> None:
    records = ten_k
    invalid = [record for record in records if record.kind == "invalid"]
    assert {record.variant for record in invalid} == {v.name for v in INVALID_VARIANTS}
    assert {record.expected_reason for record in invalid} == {
        "missing", "null", "wrong_type", "out_of_range", "not_in_enum", "bad_timestamp",
        "too_long", "too_short", "invalid_json", "not_an_object", "duplicate_key", "too_deep",
    }  # fmt: skip
    for record in records:
        reason, field = _classify_line(record.line)
        assert (reason, field) == (record.expected_reason, record.expected_field), record


def test_duplicates_repeat_an_earlier_valid_event_exactly(ten_k: list[GeneratedRecord]) -> None:
    seen: dict[str, int] = {}
    for index, record in enumerate(ten_k):
        if record.kind == "valid":
            event_id = json.loads(record.line)["event_id"]
            assert event_id not in seen
            seen[record.line] = index
        elif record.kind == "duplicate":
            assert record.line in seen
            assert 0 < index - seen[record.line] < 5_000  # "a bit later"
            assert record.expected_reason is None


def test_valid_events_are_plausible(ten_k: list[GeneratedRecord]) -> None:
    config = TEN_K
    users = {user["user_id"] for user in generate_users(config)}
    prices = {p["product_id"]: p["price"] for p in generate_products(config)}
    start = (config.start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    end = start + config.days * 86_400_000_000
    types: Counter[str] = Counter()
    styles: Counter[str] = Counter()
    for record in ten_k:
        if record.kind != "valid":
            continue
        event = record.parse()
        types[event["event_type"]] += 1
        assert event["user_id"] in users
        stamp = event["event_timestamp"]
        styles[
            "millis" if isinstance(stamp, int) else "Z" if stamp.endswith("Z") else "offset"
        ] += 1
        _, micros = _timestamp_reason(stamp)
        assert micros is not None
        assert start - 1000 < micros < end
        product = event.get("product_id")
        assert product is None or product in prices
        value = event.get("event_value")
        if event["event_type"] in ("purchase", "add_to_cart"):
            quantity = event["properties"]["quantity"]
            assert value == pytest.approx(prices[product] * quantity, abs=0.005)
        else:
            assert value is None
        assert isinstance(event["properties"]["session_id"], str)
    assert types.most_common(1)[0][0] == "page_view"
    assert types["page_view"] > types["search"] > types["purchase"] > types["signup"] > 0
    assert set(types) == set(EVENT_TYPES)
    assert styles["Z"] > styles["offset"] > styles["millis"] > 0


def test_manifest_counts_match_the_files(tmp_path: Path) -> None:
    gz = True  # the gzipped files hold the same bytes (test_gzip_files_hold_the_same_bytes)
    summary = write_sample(tmp_path, MID, FORMATS, gzip=gz)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == json.loads(json.dumps(summary.manifest))
    events = manifest["events"]
    assert events["records"] == MID.events
    assert events["valid"] + events["duplicate"] + events["invalid"] == MID.events
    assert events["duplicate"] == MID.duplicate_count
    assert events["invalid"] == sum(events["invalid_by_reason"].values()) == MID.invalid_count
    suffix = ".gz" if gz else ""
    for fmt in FORMATS:
        name = f"events.{fmt}{suffix}"
        entry = manifest["files"][name]
        assert entry["bytes"] == (tmp_path / name).stat().st_size
        read_back = _tally(_read_records(tmp_path / name, fmt))
        expected = {key: entry[key] for key in read_back}
        assert read_back == expected, fmt
        assert entry["records"] + entry["skipped"] == MID.events
    ndjson = manifest["files"][f"events.ndjson{suffix}"]
    assert {k: ndjson[k] for k in ("valid", "duplicate", "invalid", "invalid_by_reason")} == {
        k: events[k] for k in ("valid", "duplicate", "invalid", "invalid_by_reason")
    }
    assert ndjson["uncompressed_bytes"] == events["ndjson_bytes"]
    assert manifest["files"][f"users.ndjson{suffix}"]["records"] == MID.users
    assert manifest["files"][f"products.csv{suffix}"]["records"] == MID.products


def test_per_record_expectations_hold_in_every_format(tmp_path: Path) -> None:
    records = list(generate_events(MID))
    assert {r.variant for r in records if r.variant} == {v.name for v in INVALID_VARIANTS}
    for fmt in FORMATS:
        stats = write_dataset(tmp_path / f"events.{fmt}", records, fmt)
        read_back = _read_records(tmp_path / f"events.{fmt}", fmt)
        expected = [record.expected_for(fmt) for record in records]
        written = [e for e in expected if e is not None]
        assert len(read_back) == len(written) == stats.records
        for (reason, field, _), (kind, want_reason, want_field) in zip(
            read_back, written, strict=True
        ):
            assert (reason, field) == (want_reason, want_field), (fmt, kind)


def test_average_line_length(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, TEN_K)
    size = (tmp_path / "events.ndjson").stat().st_size
    assert 200 <= size / TEN_K.events <= 280
    assert summary.events["avg_line_bytes"] == round(size / TEN_K.events, 2)


def test_formats_parse_back_to_the_same_records(tmp_path: Path) -> None:
    records = list(generate_events(SMALL))
    lines = [record.line for record in records]
    write_sample(tmp_path / "plain", SMALL, FORMATS)
    write_sample(tmp_path / "gz", SMALL, FORMATS, gzip=True)
    for folder, suffix in ((tmp_path / "plain", ""), (tmp_path / "gz", ".gz")):
        # NDJSON: the generated lines, exactly
        assert _read_text(folder / f"events.ndjson{suffix}").split("\n")[:-1] == lines
        # JSON: the same values, without the truncated lines
        values = json.loads(_read_text(folder / f"events.json{suffix}"))
        assert values == [
            json.loads(r.line) for r in records if r.expected_reason != "invalid_json"
        ]
        # CSV: the same fields as text; records CSV cannot hold are one-cell rows
        reader = csv.reader(io.StringIO(_read_text(folder / f"events.csv{suffix}"), newline=""))
        assert tuple(next(reader)) == EVENT_FIELDS
        for record, row in zip(records, reader, strict=True):
            if record.expected_for("csv") == ("invalid", "ragged_row", None):
                assert row == [record.line]
                continue
            event = record.parse()
            for name, cell in zip(EVENT_FIELDS, row, strict=True):
                value = event.get(name)
                if value is None:
                    assert cell == ""
                elif name == "properties":
                    assert json.loads(cell) == value
                elif isinstance(value, float):
                    assert float(cell) == value
                else:
                    assert cell == str(value)
        # the tables
        users = generate_users(SMALL)
        assert [
            json.loads(x) for x in _read_text(folder / f"users.ndjson{suffix}").splitlines()
        ] == users
        assert json.loads(_read_text(folder / f"products.json{suffix}")) == generate_products(SMALL)
        rows = list(csv.DictReader(io.StringIO(_read_text(folder / f"users.csv{suffix}"))))
        assert rows == users
        renames = list(
            csv.DictReader(io.StringIO(_read_text(folder / f"user_renames.csv{suffix}")))
        )
        assert renames == generate_user_renames(SMALL)
        products = list(csv.DictReader(io.StringIO(_read_text(folder / f"products.csv{suffix}"))))
        assert [{**p, "price": float(p["price"])} for p in products] == generate_products(SMALL)


def test_gzip_files_hold_the_same_bytes(tmp_path: Path) -> None:
    plain = write_sample(tmp_path / "plain", SMALL, FORMATS)
    packed = write_sample(tmp_path / "gz", SMALL, FORMATS, gzip=True)
    for name, stats in plain.files.items():
        gz_stats = packed.files[f"{name}.gz"]
        assert gz_stats.sha256 == stats.sha256
        assert (
            gzip.decompress((tmp_path / "gz" / f"{name}.gz").read_bytes())
            == (tmp_path / "plain" / name).read_bytes()
        )
        assert gz_stats.bytes < stats.bytes or stats.bytes < 200


def test_users_renames_and_products() -> None:
    config = SampleConfig(users=300, products=40, renamed_users=25)
    users = generate_users(config)
    assert [u["user_id"] for u in users] == [f"u_{n:06d}" for n in range(1, 301)]
    assert all(tuple(u) == USER_FIELDS for u in users)
    by_id = {u["user_id"]: u for u in users}
    window_start, window_end = config.start, config.end
    for user in users:
        assert " " in user["user_name"]
        created = datetime.fromisoformat(user["created_at"])
        updated = datetime.fromisoformat(user["updated_at"])
        assert created <= updated < window_start
    renames = generate_user_renames(config)
    assert len(renames) == len({r["user_id"] for r in renames}) == 25
    assert renames == sorted(renames, key=lambda r: r["updated_at"])
    for rename in renames:
        before = by_id[rename["user_id"]]
        assert rename["user_name"] != before["user_name"]
        assert rename["created_at"] == before["created_at"]
        assert window_start <= datetime.fromisoformat(rename["updated_at"]) < window_end
        assert rename["updated_at"] > before["updated_at"]
    products = generate_products(config)
    assert [p["product_id"] for p in products] == [f"p_{n:05d}" for n in range(1, 41)]
    assert len({p["category"] for p in products}) == 10
    for product in products:
        assert tuple(product) == PRODUCT_FIELDS
        assert 0 < product["price"] <= 1_000_000
        assert round(product["price"], 2) == product["price"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"events": -1}, "events must be at least 0"),
        ({"users": 0}, "users must be at least 1"),
        ({"duplicate_share": 1.5}, "between 0 and 1"),
        ({"invalid_share": -0.1}, "between 0 and 1"),
        ({"duplicate_share": 0.6, "invalid_share": 0.6}, "must not exceed 1"),
        ({"start": datetime(2026, 11, 1)}, "timezone-aware"),
        ({"days": 0}, "days must be at least 1"),
        ({"seed": -1}, "seed must be at least 0"),
        ({"events": 1.5}, "events must be an integer"),
    ],
)
def test_config_rejects_bad_values(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SampleConfig(**changes)


def test_renamed_users_are_capped_at_users() -> None:
    config = SampleConfig(users=5)
    assert config.renamed_users == 5
    assert len(generate_user_renames(config)) == 5


def test_write_dataset_infers_the_format_and_refuses_unknown_ones(tmp_path: Path) -> None:
    products = generate_products(SMALL)
    stats = write_dataset(tmp_path / "p.csv.gz", products, fields=PRODUCT_FIELDS)
    assert (stats.format, stats.gzip, stats.records) == ("csv", True, len(products))
    with pytest.raises(ValueError, match="cannot tell the format"):
        write_dataset(tmp_path / "p.parquet", products)
    with pytest.raises(ValueError, match="unknown format"):
        write_dataset(tmp_path / "p.txt", products, "xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown format"):
        write_sample(tmp_path, SMALL, ("ndjson", "xml"))  # type: ignore[arg-type]
    assert not list(tmp_path.glob(".*.tmp"))


def test_generated_record_helpers() -> None:
    record = GeneratedRecord('{"a":1}', "valid")
    assert record.parse() == {"a": 1}
    assert record.expected_for("csv") == ("valid", None, None)


def test_csv_rows_match_the_csv_module(tmp_path: Path) -> None:
    records = [r for r in generate_events(SMALL) if r.kind != "invalid"]
    write_dataset(tmp_path / "events.csv", records)
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(EVENT_FIELDS)
    for record in records:
        event = record.parse()
        writer.writerow(
            [
                json.dumps(v, separators=(",", ":")) if isinstance(v, dict) else v
                for v in (event.get(name) for name in EVENT_FIELDS)
            ]
        )
    assert (tmp_path / "events.csv").read_text(encoding="utf-8") == expected.getvalue()


def test_blocks_give_the_same_stream_in_any_number_of_processes() -> None:
    config = SampleConfig(events=4_000, users=100, products=30)
    alone = list(_event_chunks(config, workers=1, block_size=1_500))
    pooled = list(_event_chunks(config, workers=2, block_size=1_500))
    assert len(alone) == 3
    assert alone == pooled
    records = [r for chunk in alone for r in chunk.special.values()]
    assert Counter(r.kind for r in records) == {"duplicate": 80, "invalid": 40}
