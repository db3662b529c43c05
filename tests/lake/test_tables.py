"""Tables from contracts: schema, partitioning, properties, and schema evolution."""

from __future__ import annotations

from pathlib import Path

import data_processor_rs
import pyarrow as pa
import pytest
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DoubleType, StringType, TimestamptzType

from eventlake.config import get_settings
from eventlake.lake import DEAD_LETTER_TABLE, IncompatibleSchemaError, Lake, SequenceRange
from tests.lake.conftest import RECEIVED_AT, process, sample_body

EVENTS_YAML = (get_settings().contracts_dir / "events.yaml").read_text()


def contract_with(
    extra_field_yaml: str, *, replace: tuple[str, str] | None = None
) -> data_processor_rs.Contract:
    text = EVENTS_YAML
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    return data_processor_rs.Contract.from_yaml(text + extra_field_yaml, "events-next.yaml")


NEW_OPTIONAL = """
  - name: campaign
    type: string
    nullable: true
    description: Marketing campaign, added in version 2.
"""
NEW_REQUIRED = """
  - name: tenant
    type: string
    required: true
    nullable: false
"""


def test_events_table_follows_the_contract(
    lake: Lake, events_contract: data_processor_rs.Contract
) -> None:
    table = lake.ensure_dataset(events_contract)
    schema = table.schema()
    assert [f.name for f in schema.fields] == list(events_contract.arrow_schema().names)
    assert schema.find_field("event_timestamp").field_type == TimestamptzType()
    assert schema.find_field("event_value").field_type == DoubleType()
    assert schema.find_field("event_id").required is True
    assert schema.find_field("product_id").required is False
    assert "deduplication key" in (schema.find_field("event_id").doc or "")
    (partition,) = table.spec().fields
    assert isinstance(partition.transform, DayTransform)
    assert schema.find_column_name(partition.source_id) == "event_timestamp"
    assert table.properties["write.parquet.compression-codec"] == "zstd"
    assert table.format_version == 2


def test_ensure_is_idempotent_and_tables_are_listed(
    lake: Lake, events_contract: data_processor_rs.Contract
) -> None:
    first = lake.ensure_dataset(events_contract)
    again = lake.ensure_dataset(events_contract)
    assert again.metadata_location == first.metadata_location
    lake.ensure_dead_letter()
    assert lake.table_names() == ["events", DEAD_LETTER_TABLE]


def test_dead_letter_table_is_partitioned_by_day_received(lake: Lake) -> None:
    table = lake.ensure_dead_letter()
    assert table.schema().find_field("raw").field_type == StringType()
    (partition,) = table.spec().fields
    assert table.schema().find_column_name(partition.source_id) == "received_at"


def test_a_new_optional_field_evolves_the_table_and_old_rows_read_null(
    lake: Lake, events_contract: data_processor_rs.Contract
) -> None:
    lake.ensure_dataset(events_contract)
    old = process(sample_body(300), events_contract)
    lake.commit_processed(
        old, ranges={"s": SequenceRange(0, 0)}, job_id="old", source="t", received_at=RECEIVED_AT
    )

    evolved = contract_with(NEW_OPTIONAL)
    table = lake.ensure_dataset(evolved)
    assert table.schema().find_field("campaign").required is False
    body = (
        b'{"event_id":"n1","user_id":"u","event_type":"login",'
        b'"event_timestamp":"2026-11-02T00:00:00Z","campaign":"black-friday"}\n'
    )
    new = process(body, evolved)
    lake.commit_processed(
        new, ranges={"s": SequenceRange(1, 1)}, job_id="new", source="t", received_at=RECEIVED_AT
    )

    rows = lake.table("events").scan().to_arrow()
    assert rows.num_rows == len(old) + 1
    campaign = dict(
        zip(rows.column("event_id").to_pylist(), rows.column("campaign").to_pylist(), strict=True)
    )
    assert campaign.pop("n1") == "black-friday"
    assert set(campaign.values()) == {None}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(extra_field_yaml=NEW_REQUIRED), "new column 'tenant' is required"),
        (
            dict(
                extra_field_yaml="",
                replace=("name: event_value\n    type: float", "name: event_value\n    type: int"),
            ),
            "column 'event_value' changes type from double to long",
        ),
        (
            dict(
                extra_field_yaml="",
                replace=(
                    "name: product_id\n    type: string\n    nullable: true",
                    "name: product_id\n    type: string\n    required: true\n    nullable: false",
                ),
            ),
            "column 'product_id' becomes required",
        ),
    ],
    ids=["new-required-field", "type-change", "nullable-made-required"],
)
def test_an_incompatible_contract_is_refused_before_anything_is_written(
    lake: Lake, events_contract: data_processor_rs.Contract, change: dict[str, object], message: str
) -> None:
    table = lake.ensure_dataset(events_contract)
    lake.commit_processed(
        process(sample_body(100), events_contract),
        ranges={"s": SequenceRange(0, 0)},
        job_id="j",
        source="t",
        received_at=RECEIVED_AT,
    )
    before = lake.table("events")
    files_before = _files(lake)
    with pytest.raises(IncompatibleSchemaError, match=message) as refused:
        lake.ensure_dataset(contract_with(**change))  # type: ignore[arg-type]
    assert refused.value.table == "events"
    after = lake.table("events")
    assert after.metadata_location == before.metadata_location
    assert after.schema() == table.schema()
    assert _files(lake) == files_before


def _files(lake: Lake) -> set[Path]:
    return set((lake.settings.home / "lake").rglob("*"))


def test_scan_gives_arrow_with_the_table_types(
    lake: Lake, events_contract: data_processor_rs.Contract
) -> None:
    lake.ensure_dataset(events_contract)
    lake.commit_processed(
        process(sample_body(50), events_contract),
        ranges={"s": SequenceRange(0, 0)},
        job_id="j",
        source="t",
        received_at=RECEIVED_AT,
    )
    rows = lake.table("events").scan().to_arrow()
    assert rows.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert rows.schema.field("event_date").type == pa.date32()
