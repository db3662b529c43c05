"""``data_processor_rs.write_iceberg``: Arrow rows in, Iceberg Parquet data files out (bytes,
paths, partition days), read back with pyarrow exactly as they went in, with the field ids,
codec and statistics Iceberg needs; bad input raises a named error."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import data_processor_rs as rs
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.contracts import load_contract

EVENTS = load_contract("events")
DAY_US = 86_400_000_000


def event(i: int, timestamp: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "user_id": f"u{i % 5}",
        "event_type": ["page_view", "PURCHASE ", "login"][i % 3],
        "event_timestamp": timestamp,
        **extra,
    }


def processed(events: list[dict[str, Any]]) -> rs.TransformedBatch:
    body = "\n".join(json.dumps(e) for e in events).encode()
    out = rs.process(body, EVENTS, job_id="job-1", source="test", ingested_at_us=1_700_000_000)
    assert out.num_rejected == 0, out.rejected.to_pylist()
    return out


def field_ids(schema: pa.Schema) -> dict[str, int]:
    return {name: i + 1 for i, name in enumerate(schema.names)}


def read(file: rs.DataFile) -> pa.Table:
    return pq.read_table(pa.BufferReader(file.data))


def metadata(file: rs.DataFile) -> pq.FileMetaData:
    return pq.read_metadata(pa.BufferReader(file.data))


@pytest.fixture(scope="module")
def events_batch() -> rs.TransformedBatch:
    """Events over three days (2026-11-02 to 04), out of order, with and without optional fields."""
    days = ["2026-11-03", "2026-11-02", "2026-11-04"]
    events = [
        event(
            i,
            f"{days[i % 3]}T{i % 24:02d}:15:30Z",
            event_value=(i * 1.25 if i % 2 else None),
            product_id=(f"p{i}" if i % 4 else None),
            properties=({"page": f"/p/{i}", "n": [i, None]} if i % 5 else None),
        )
        for i in range(300)
    ]
    return processed(events)


def test_a_processed_batch_round_trips(events_batch: rs.TransformedBatch) -> None:
    expected = pa.Table.from_batches([events_batch.to_arrow()])
    ids = field_ids(expected.schema)
    [file] = rs.write_iceberg(events_batch, "/lake/events", ids, file_prefix="job-1")
    assert file.path == "/lake/events/data/job-1-00000.parquet"
    assert (file.partition_day, file.record_count) == (None, 300)
    assert file.file_size_in_bytes == len(file.data)
    back = read(file)
    assert back.equals(expected)
    # pyarrow reads the Parquet schema alone (no Arrow schema is embedded): tz-aware
    # timestamps come back as timestamp[us, tz=UTC], REQUIRED columns as non-nullable.
    assert back.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert back.schema.field("event_date").type == pa.date32()
    for field in expected.schema:
        assert back.schema.field(field.name).nullable == field.nullable, field.name
    assert back.to_pylist() == expected.to_pylist()


def test_the_parquet_metadata_has_zstd_statistics_and_field_ids(
    events_batch: rs.TransformedBatch,
) -> None:
    schema = events_batch.to_arrow().schema
    ids = {name: 100 + i for i, name in enumerate(schema.names)}
    for level in (1, 3):
        [file] = rs.write_iceberg(events_batch, "t", ids, file_prefix="f", zstd_level=level)
        meta = metadata(file)
        assert meta.created_by.startswith("eventlake data_processor_rs ")
        assert b"ARROW:schema" not in (meta.metadata or {})
        arrow_schema = meta.schema.to_arrow_schema()
        for i, name in enumerate(schema.names):
            assert arrow_schema.field(i).name == name
            assert arrow_schema.field(i).metadata[b"PARQUET:field_id"] == str(ids[name]).encode()
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                column = meta.row_group(g).column(c)
                assert column.compression == "ZSTD"
                assert column.is_stats_set
                assert column.statistics.has_min_max, column.path_in_schema
        stats = {
            meta.row_group(0).column(c).path_in_schema: meta.row_group(0).column(c).statistics
            for c in range(meta.num_columns)
        }
        assert (stats["event_id"].min, stats["event_id"].max) == ("e0", "e99")
        assert stats["event_value"].null_count == 150
        # Float columns too: they carry the type-defined column order pyarrow understands.
        assert (stats["event_value"].min, stats["event_value"].max) == (1.25, 373.75)
        assert stats["event_date"].min == date(2026, 11, 2)
        assert stats["event_date"].max == date(2026, 11, 4)


def test_rows_are_split_by_day_with_partition_paths(events_batch: rs.TransformedBatch) -> None:
    rows = events_batch.to_arrow().to_pylist()
    ids = field_ids(events_batch.to_arrow().schema)
    files = rs.write_iceberg(
        events_batch,
        "s3://bucket/lake/events/",
        ids,
        file_prefix="job-1",
        partition_source="event_timestamp",
        partition_name="event_date_day",
    )
    assert [f.path for f in files] == [
        "s3://bucket/lake/events/data/event_date_day=2026-11-02/job-1-00000.parquet",
        "s3://bucket/lake/events/data/event_date_day=2026-11-03/job-1-00001.parquet",
        "s3://bucket/lake/events/data/event_date_day=2026-11-04/job-1-00002.parquet",
    ]
    epoch = date(1970, 1, 1)
    assert [f.partition_day for f in files] == [(date(2026, 11, d) - epoch).days for d in (2, 3, 4)]
    assert [f.record_count for f in files] == [100, 100, 100]
    for file in files:
        assert file.partition_day is not None
        day = date.fromordinal(epoch.toordinal() + file.partition_day)
        # The file's rows are the input's rows of that day, in input order.
        assert read(file).to_pylist() == [r for r in rows if r["event_date"] == day]


def test_a_plain_pyarrow_table_round_trips_with_nulls_and_days_before_1970() -> None:
    timestamps = [3 * DAY_US + 1, None, -1, 0, -DAY_US - 1, None, DAY_US - 1]
    n = len(timestamps)
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("name", pa.string()),
            pa.field("at", pa.timestamp("us", tz="UTC")),
            pa.field("ok", pa.bool_()),
            pa.field("score", pa.float64()),
            pa.field("day", pa.date32()),
        ]
    )
    first = pa.record_batch(
        [
            pa.array(range(n), pa.int64()),
            pa.array([f"n{i}" if i != 2 else None for i in range(n)]),
            pa.array(timestamps, pa.timestamp("us", tz="UTC")),
            pa.array([i % 2 == 0 for i in range(n)]),
            pa.array([i / 3 for i in range(n)]),
            pa.array([None if t is None else t // DAY_US for t in timestamps], pa.int32()).cast(
                pa.date32()
            ),
        ],
        schema=schema,
    )
    table = pa.Table.from_batches([first, first.slice(2, 3)])  # two chunks: a stream
    assert table.column("id").num_chunks == 2
    ids = field_ids(schema)

    [whole] = rs.write_iceberg(table, "lake/t", ids, file_prefix="x")
    assert read(whole).equals(table.combine_chunks())
    assert whole.path == "lake/t/data/x-00000.parquet"
    # A single record batch (__arrow_c_array__) and a struct array are taken too.
    [single] = rs.write_iceberg(first, "lake/t", ids, file_prefix="x")
    assert read(single).equals(pa.Table.from_batches([first]))
    [from_struct] = rs.write_iceberg(first.to_struct_array(), "lake/t", ids, file_prefix="x")
    assert read(from_struct).to_pylist() == first.to_pylist()

    files = rs.write_iceberg(
        table, "lake/t", ids, file_prefix="x", partition_source="at", partition_name="at_day"
    )
    assert [(f.partition_day, f.record_count) for f in files] == [
        (-2, 2),
        (-1, 2),
        (0, 3),
        (3, 1),
        (None, 2),
    ]
    assert [f.path.removeprefix("lake/t/data/") for f in files] == [
        "at_day=1969-12-30/x-00000.parquet",
        "at_day=1969-12-31/x-00001.parquet",
        "at_day=1970-01-01/x-00002.parquet",
        "at_day=1970-01-04/x-00003.parquet",
        "at_day=null/x-00004.parquet",
    ]
    all_rows = table.to_pylist()
    assert read(files[1]).to_pylist() == [
        r for r in all_rows if r["at"] is not None and r["at"].date() == date(1969, 12, 31)
    ]
    assert read(files[-1]).column("at").null_count == 2
    assert read(files[-1]).column("id").to_pylist() == [1, 5]

    # A date32 source partitions by its own days.
    by_date = rs.write_iceberg(
        table, "lake/t", ids, file_prefix="d", partition_source="day", partition_name="day"
    )
    assert [f.partition_day for f in by_date] == [f.partition_day for f in files]


def test_a_validated_batch_is_taken_as_is() -> None:
    body = json.dumps(event(1, "2026-11-03T10:15:30Z")).encode()
    validated = rs.validate_schema(rs.parse_events(body), EVENTS)
    expected = pa.Table.from_batches([validated.to_arrow()])
    [file] = rs.write_iceberg(validated, "t", field_ids(expected.schema), file_prefix="v")
    assert read(file).equals(expected)


def test_an_empty_batch_gives_no_files() -> None:
    out = rs.process(b"", EVENTS)
    ids = field_ids(out.to_arrow().schema)
    assert rs.write_iceberg(out, "t", ids, file_prefix="f") == []
    files = rs.write_iceberg(
        out, "t", ids, file_prefix="f", partition_source="event_timestamp", partition_name="d"
    )
    assert files == []


def test_data_files_are_read_only() -> None:
    [file] = rs.write_iceberg(
        pa.table({"a": [1]}), "t", {"a": 1}, file_prefix="f", partition_source=None
    )
    with pytest.raises(AttributeError):
        file.path = "elsewhere"  # type: ignore[misc]
    assert file.data is file.data, "the bytes are made once"
    assert repr(file).startswith('DataFile(path="t/data/f-00000.parquet", partition_day=None')


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [{"a": [1]}, [1, 2], "rows", None])
def test_a_non_arrow_object_is_a_type_error(batch: object) -> None:
    with pytest.raises(TypeError, match=type(batch).__name__):
        rs.write_iceberg(batch, "t", {"a": 1}, file_prefix="f")  # type: ignore[arg-type]


def test_arrow_that_is_not_a_record_batch_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a record batch"):
        rs.write_iceberg(pa.array([1, 2]), "t", {}, file_prefix="f")
    with pytest.raises(TypeError, match="stream of record batches"):
        rs.write_iceberg(pa.chunked_array([[1], [2]]), "t", {}, file_prefix="f")
    with_nulls = pa.array([{"a": 1}, None], pa.struct([("a", pa.int64())]))
    with pytest.raises(ValueError, match="null rows"):
        rs.write_iceberg(with_nulls, "t", {"a": 1}, file_prefix="f")


def test_a_column_without_a_field_id_names_the_column(events_batch: rs.TransformedBatch) -> None:
    ids = field_ids(events_batch.to_arrow().schema)
    del ids["product_id"]
    with pytest.raises(rs.ProcessorError, match="'product_id' has no Iceberg field id") as info:
        rs.write_iceberg(events_batch, "t", ids, file_prefix="f")
    assert isinstance(info.value, ValueError)


def test_field_ids_must_be_a_mapping_of_32_bit_ints() -> None:
    table = pa.table({"a": [1]})
    with pytest.raises(TypeError, match="mapping"):
        rs.write_iceberg(table, "t", [("a", 1)], file_prefix="f")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        rs.write_iceberg(table, "t", {"a": "1"}, file_prefix="f")  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="32-bit"):
        rs.write_iceberg(table, "t", {"a": 2**40}, file_prefix="f")
    with pytest.raises(rs.ProcessorError, match="field id 1 is given to both"):
        rs.write_iceberg(pa.table({"a": [1], "b": [2]}), "t", {"a": 1, "b": 1}, file_prefix="f")


def test_an_unknown_or_mistyped_partition_column_is_an_error(
    events_batch: rs.TransformedBatch,
) -> None:
    ids = field_ids(events_batch.to_arrow().schema)
    with pytest.raises(rs.ProcessorError, match="'event_time' is not in the batch"):
        rs.write_iceberg(
            events_batch,
            "t",
            ids,
            file_prefix="f",
            partition_source="event_time",
            partition_name="d",
        )
    with pytest.raises(rs.ProcessorError, match="'user_id' has type Utf8"):
        rs.write_iceberg(
            events_batch, "t", ids, file_prefix="f", partition_source="user_id", partition_name="d"
        )
    seconds = pa.table({"at": pa.array([datetime(2026, 1, 1, tzinfo=UTC)], pa.timestamp("s"))})
    with pytest.raises(rs.ProcessorError, match="'at' has type Timestamp"):
        rs.write_iceberg(
            seconds, "t", {"at": 1}, file_prefix="f", partition_source="at", partition_name="d"
        )


def test_partition_source_and_name_go_together() -> None:
    table = pa.table({"at": pa.array([0], pa.timestamp("us"))})
    with pytest.raises(ValueError, match="partition_name is required"):
        rs.write_iceberg(table, "t", {"at": 1}, file_prefix="f", partition_source="at")
    with pytest.raises(ValueError, match="without a partition_source"):
        rs.write_iceberg(table, "t", {"at": 1}, file_prefix="f", partition_name="d")


def test_threads_change_nothing_but_the_time(events_batch: rs.TransformedBatch) -> None:
    ids = field_ids(events_batch.to_arrow().schema)
    options: dict[str, Any] = {
        "file_prefix": "p",
        "partition_source": "event_timestamp",
        "partition_name": "day",
    }
    one = rs.write_iceberg(events_batch, "t", ids, **options)
    many = rs.write_iceberg(events_batch, "t", ids, threads=4, **options)
    assert [(f.path, f.record_count, f.data) for f in many] == [
        (f.path, f.record_count, f.data) for f in one
    ]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("file_prefix", "", "file_prefix"),
        ("file_prefix", "a/b", "file_prefix"),
        ("zstd_level", 23, "zstd_level"),
        ("threads", 0, "threads"),
    ],
)
def test_bad_names_and_levels_are_value_errors(option: str, value: object, message: str) -> None:
    kwargs: dict[str, Any] = {"file_prefix": "f", option: value}
    with pytest.raises(ValueError, match=message):
        rs.write_iceberg(pa.table({"a": [1]}), "t", {"a": 1}, **kwargs)
