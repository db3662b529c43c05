"""The routing module on its own: bodies cut into one part per shard, every record in exactly
one part, in order, each part read by the core as the API read the whole body. The core's hash
is checked against Iceberg's own bucket transform (pyiceberg-core), and its key texts against
Python's ``json.dumps``."""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import json
import random
from typing import Any

import data_processor_rs
import pyarrow as pa
import pytest
from pyiceberg_core.transform import bucket  # type: ignore[import-untyped, unused-ignore]

from eventlake.ingest import routing
from eventlake.ingest.headers import gunzip
from eventlake.stream.base import ShardInfo
from eventlake.stream.embedded import hash_ordinal, hash_range

CONTRACT = data_processor_rs.Contract.default_events()
FOUR = routing.ShardMap.of(
    [ShardInfo(f"shard-{i:04d}", hash_range=hash_range(i, 4)) for i in range(4)]
)
assert FOUR is not None


def key_hash(text: str) -> int:
    """The hash key of a key's text, by Iceberg's bucket transform (the rule the core follows)."""
    buckets = bucket(pa.array([text], pa.string()), routing.BUCKETS)
    return int(buckets[0].as_py()) << routing.SPREAD


def key_text(*values: Any) -> str:
    """The text a key of several values (or of a non-string one) is hashed as."""
    return json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)


def event(event_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_id": "u-1",
        "event_type": "page_view",
        "event_timestamp": "2026-11-01T12:00:00Z",
        **changes,
    }


def as_csv(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def encode(records: list[dict[str, Any]], body_format: str) -> bytes:
    if body_format == "json":
        return json.dumps(records, indent=1).encode()  # elements over several lines
    if body_format == "ndjson":
        return b"".join(json.dumps(r).encode() + b"\r\n" for r in records)
    return as_csv(records)


def validate(body: bytes, body_format: str) -> data_processor_rs.ValidatedBatch:
    parsed = data_processor_rs.parse_events(body, body_format)  # type: ignore[arg-type]
    return data_processor_rs.validate_schema(parsed, CONTRACT)


def route(
    body: bytes,
    body_format: str,
    contract: data_processor_rs.Contract = CONTRACT,
    shards: routing.ShardMap | None = FOUR,
) -> list[routing.Part] | None:
    batch, extents = data_processor_rs.validate_events(body, contract, body_format)  # type: ignore[arg-type]
    assert shards is not None
    return routing.split(body, batch, extents, shards)


def ids_of(body: bytes, body_format: str) -> tuple[list[str], int]:
    batch = validate(body, body_format)
    return batch.to_arrow().column("event_id").to_pylist(), batch.num_rejected


@pytest.mark.parametrize("body_format", ["json", "ndjson", "csv"])
def test_a_body_is_cut_by_shard_every_record_once_in_order(body_format: str) -> None:
    records = [event(f"e-{i}") for i in range(40)]
    records[5] = event("bad", event_type="teleport")  # rejected: rides with the first part
    body = encode(records, body_format)
    parts = route(body, body_format)

    assert parts is not None
    assert len(parts) == 4
    assert len({p.shard_id for p in parts}) == 4
    assert sum(p.records for p in parts) == 40
    seen: list[str] = []
    for number, part in enumerate(parts):
        ids, rejected = ids_of(part.body, body_format)
        assert rejected == (1 if number == 0 else 0)
        assert part.records == len(ids) + rejected
        assert ids == sorted(ids, key=lambda i: int(i.split("-")[1]))  # body order kept
        for event_id in ids:  # each event on the shard owning its key's hash
            owner = hash_ordinal(key_hash(event_id), 4)
            assert part.shard_id == f"shard-{owner:04d}"
        assert part.hash_key == key_hash(ids[0])  # its first record's
        assert hash_ordinal(part.hash_key, 4) == int(part.shard_id[-4:])
        seen += ids
    assert sorted(seen) == sorted(r["event_id"] for r in records if r["event_id"] != "bad")
    # The first part holds the body's first record.
    assert ids_of(parts[0].body, body_format)[0][0] == "e-0"


@pytest.mark.parametrize("body_format", ["json", "ndjson", "csv"])
def test_a_body_on_one_shard_is_published_as_sent(body_format: str) -> None:
    one = [f"k-{i}" for i in range(400) if hash_ordinal(key_hash(f"k-{i}"), 4) == 2]
    body = encode([event(i) for i in one[:10]], body_format)
    parts = route(body, body_format)
    assert parts is not None
    [part] = parts
    assert part.body is body  # not a copy
    assert (part.shard_id, part.hash_key, part.records) == ("shard-0002", key_hash(one[0]), 10)


def test_a_bom_and_quoted_line_ends_in_csv_stay_in_their_row() -> None:
    records = [event(f"e-{i}", properties='{"note": "two\\nlines"}') for i in range(12)]
    records[3]["user_id"] = 'say "hi"\r\nthere'
    body = b"\xef\xbb\xbf" + as_csv(records)
    parts = route(body, "csv")
    assert parts is not None
    assert len(parts) > 1
    rows = [row for p in parts for row in csv.DictReader(io.StringIO(p.body.decode()))]
    assert sorted(rows, key=lambda r: r["event_id"]) == sorted(
        ({key: str(value) for key, value in record.items()} for record in records),
        key=lambda r: r["event_id"],
    )


def test_a_gzip_body_is_routed_once_decompressed() -> None:
    """The ingestor decompresses a gzip body to check it; routing cuts the plain bytes."""
    plain = encode([event(f"g-{i}") for i in range(30)], "ndjson")
    body = gunzip(gzip.compress(plain), 1 << 20)
    parts = route(body, "ndjson")
    assert parts is not None
    assert len(parts) == 4
    assert sorted(i for p in parts for i in ids_of(p.body, "ndjson")[0]) == sorted(
        f"g-{i}" for i in range(30)
    )


def test_gzip_inside_gzip_is_not_cut() -> None:
    """The core gunzips such a body once more: its offsets are not into these bytes."""
    inner = gzip.compress(encode([event(f"z-{i}") for i in range(30)], "ndjson"))
    assert route(inner, "ndjson") is None


def contract(dedup_key: list[str], fields: str) -> data_processor_rs.Contract:
    return data_processor_rs.Contract.from_yaml(
        f"name: k\ndedup_key: {dedup_key}\nfields:\n{fields}"
    )


def test_keys_of_several_fields_hash_their_typed_values() -> None:
    """Two spellings of one timestamp are one key for the core, and one hash here; so are 0.0
    and -0.0. The key's text is Python's JSON of the typed values."""
    keyed = contract(
        ["user_id", "updated_at"],
        "  - {name: user_id, type: string, required: true, nullable: false}\n"
        "  - {name: updated_at, type: timestamp, required: true, nullable: false}\n",
    )
    body = (
        b'{"user_id": "u", "updated_at": "2023-11-14T22:13:20Z"}\n'
        b'{"user_id": "u", "updated_at": "2023-11-14T23:13:20.000+01:00"}\n'
    )
    [part] = route(body, "ndjson", keyed) or []
    assert part.hash_key == key_hash(key_text("u", 1_700_000_000_000_000))
    floats = contract(["k"], "  - {name: k, type: float, required: true, nullable: false}\n")
    [part] = route(b'{"k": 0.0}\n{"k": -0.0}\n{"k": 0}\n', "ndjson", floats) or []
    assert (part.hash_key, part.records) == (key_hash("[0.0]"), 3)


def test_keys_of_every_type_route_by_pythons_json_text() -> None:
    """Many composite keys (escapes, non-ASCII text, floats in both notations, dates): each
    record on the shard owning the hash of ``json.dumps`` of its typed values."""
    keyed = contract(
        ["s", "f", "n", "b", "d"],
        "".join(
            f"  - {{name: {name}, type: {kind}, required: true, nullable: false}}\n"
            for name, kind in [("s", "string"), ("f", "float"), ("n", "int"), ("b", "bool")]
        )
        + "  - {name: d, type: date, required: true, nullable: false}\n",
    )
    rng = random.Random(3)  # noqa: S311 — seeded test data
    texts = ['é"q\\\n\t\x01 ✓', "plain", ""]
    records = [
        {
            "s": f"{rng.choice(texts)}{i}",
            "f": rng.choice([0.1 * i, 1e16 * i, 1.5e-7 * i, -2.5, float(i)]),
            "n": rng.randrange(-(2**63), 2**63),
            "b": i % 2 == 0,
            "d": f"2026-11-{1 + i % 28:02d}",
        }
        for i in range(60)
    ]
    body = b"".join(
        json.dumps(r, ensure_ascii=i % 2 == 0).encode() + b"\n" for i, r in enumerate(records)
    )
    parts = route(body, "ndjson", keyed)
    assert parts is not None
    assert len(parts) == 4
    assert sum(p.records for p in parts) == 60
    epoch = datetime.date(1970, 1, 1)
    for part in parts:
        for line in part.body.splitlines():
            r = json.loads(line)
            text = key_text(
                r["s"],
                float(r["f"]),
                r["n"],
                r["b"],
                (datetime.date.fromisoformat(r["d"]) - epoch).days,
            )
            assert FOUR is not None
            assert FOUR.shard_ids[FOUR.owner(key_hash(text))] == part.shard_id, text


def test_validate_events_is_parse_then_validate_in_one_pass() -> None:
    body = encode([event(f"v-{i}") for i in range(9)] + [event("bad", event_type="x")], "csv")
    batch, extents = data_processor_rs.validate_events(body, CONTRACT, "csv")
    two_steps = validate(body, "csv")
    assert batch.to_arrow() == two_steps.to_arrow()
    assert batch.rejected == two_steps.rejected
    assert len(extents) == 10 == len(data_processor_rs.record_extents(body, "csv"))


def test_no_map_without_hash_ranges_and_the_owner_of_any_key() -> None:
    assert routing.ShardMap.of([ShardInfo("a"), ShardInfo("b", hash_range=(0, 5))]) is None
    closed = ShardInfo("old", closed=True, hash_range=(0, 2**128 - 1))
    halves = [
        ShardInfo("lo", hash_range=(0, 2**127 - 1)),
        ShardInfo("hi", hash_range=(2**127, 2**128 - 1)),
    ]
    shard_map = routing.ShardMap.of([closed, *halves])
    assert shard_map is not None
    keys = (0, 2**127 - 1, 2**127, 2**128 - 1)
    assert [shard_map.shard_ids[shard_map.owner(k)] for k in keys] == ["lo", "lo", "hi", "hi"]


def test_the_shard_map_is_cached_and_listed_again_when_stale() -> None:
    now = [0.0]
    cache = routing.ShardMapCache(max_age_s=5.0, clock=lambda: now[0])
    listed: list[int] = []

    def list_shards() -> list[ShardInfo]:
        listed.append(1)
        if len(listed) > 2:
            raise RuntimeError("the stream is down")
        return [ShardInfo("only", hash_range=(0, 2**128 - 1))]

    assert cache.get("events", list_shards) is not None
    now[0] = 4.0
    cache.get("events", list_shards)
    assert len(listed) == 1  # cached
    cache.stale("events")
    cache.get("events", list_shards)
    assert len(listed) == 2  # a part landed elsewhere: listed again at once
    now[0] = 10.0
    assert cache.get("events", list_shards) is not None  # listing fails: the last map serves
    cache.stale("events")
    with pytest.raises(RuntimeError):
        cache.get("events", list_shards)  # no map at all: the error is the caller's


EVENTS = [json.dumps(event(f"t-{i}")).encode() for i in range(10)]
CSV_ROWS = b"\n".join(f"t-{i},u,page_view,2026-11-01T12:00:00Z".encode() for i in range(10))


@pytest.mark.parametrize(
    ("body_format", "body"),
    [
        # A syntax error before the end: the rest of the body is one rejected record. (A body
        # cut off at its end never reaches routing: the ingestor refuses it whole, 400
        # truncated_body, tests/api/test_truncated_body.py.)
        ("json", b"[" + b",".join(EVENTS) + b',{"event_id": "x" "y"},' + EVENTS[0] + b"]"),
        ("json", b"[" + b",".join(EVENTS) + b',{"event_id": "x", "a": [1,2}, 5, "s", null]'),
        ("json", b"[" + b",".join(EVENTS) + b',{"event_id": "x", "a": "\xff"}]'),
        ("ndjson", b"\n".join(EVENTS) + b'\n{"event_id": "x"\n\n  \n{]\n\xff\n'),
        (
            "csv",
            b"event_id,user_id,event_type,event_timestamp\n" + CSV_ROWS + b'\n"open,u\nx\n,,,\n',
        ),
    ],
)
def test_broken_records_are_counted_alike_in_the_parts(body_format: str, body: bytes) -> None:
    """Whatever the core made of the whole body, it makes of the parts together: the same
    records received, accepted and rejected (the consumer reports what the API answered)."""
    whole = validate(body, body_format)
    parts = route(body, body_format)
    assert parts is not None
    assert len(parts) > 1
    counts = [0, 0, 0]
    for part in parts:
        batch = validate(part.body, body_format)
        counts = [
            counts[0] + batch.num_received,
            counts[1] + len(batch),
            counts[2] + batch.num_rejected,
        ]
    assert counts == [whole.num_received, len(whole), whole.num_rejected]


def test_owners_agree_with_the_hash_key_ranges_wherever_shards_split() -> None:
    """Shards split anywhere (a Kinesis split names any hash key): each record goes to the shard
    whose range holds its key's hash key, a key exactly at a shard's first hash key included."""
    rng = random.Random(5)  # noqa: S311 — seeded test data
    ids = [f"r-{i}" for i in range(300)]
    # Splits at some keys' own hash keys (and one past another's), and at random points.
    edges = {key_hash(ids[7]), key_hash(ids[11]) + 1, *(rng.randrange(2**128) for _ in range(5))}
    starts = sorted({0, *edges})
    shards = [
        ShardInfo(f"s{i}", hash_range=(start, ([*starts, 2**128])[i + 1] - 1))
        for i, start in enumerate(starts)
    ]
    shard_map = routing.ShardMap.of(shards)
    assert shard_map is not None
    parts = route(encode([event(i) for i in ids], "json"), "json", shards=shard_map)
    assert parts is not None
    placed = {i: p.shard_id for p in parts for i in ids_of(p.body, "json")[0]}
    assert placed == {i: shard_map.shard_ids[shard_map.owner(key_hash(i))] for i in ids}
    assert placed[ids[7]] == shard_map.shard_ids[starts.index(key_hash(ids[7]))]
    assert placed[ids[11]] == shard_map.shard_ids[starts.index(key_hash(ids[11]) + 1) - 1]
