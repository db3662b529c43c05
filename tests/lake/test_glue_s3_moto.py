"""pyiceberg's Glue catalog + S3 (PyArrowFileIO) against a moto server over real HTTP.

No eventlake code yet: this pins the production configuration (``AwsEnv.glue_catalog_properties``)
and what moto does and does not emulate.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Summary
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DoubleType, NestedField, StringType, TimestamptzType

from tests.aws import AwsEnv

WATERMARK_KEY = "eventlake.watermark"
NO_COMMIT_RETRIES = {"commit.retry.num-retries": "0"}
ROWS = 300
DAYS = 3
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)

SCHEMA = Schema(
    NestedField(1, "event_id", StringType(), required=True),
    NestedField(2, "event_type", StringType(), required=False),
    NestedField(3, "event_timestamp", TimestamptzType(), required=True),
    NestedField(4, "event_value", DoubleType(), required=False),
    identifier_field_ids=[1],
)
SPEC = PartitionSpec(
    PartitionField(source_id=3, field_id=1000, transform=DayTransform(), name="event_day")
)
ARROW_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string()),
        pa.field("event_timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("event_value", pa.float64()),
    ]
)


def events(n: int, *, prefix: str = "e") -> pa.Table:
    """``n`` events spread evenly over ``DAYS`` days starting at ``START``."""
    step = dt.timedelta(days=DAYS) / n
    return pa.Table.from_pylist(
        [
            {
                "event_id": f"{prefix}{i:05d}",
                "event_type": ("view", "click", "purchase")[i % 3],
                "event_timestamp": START + i * step,
                "event_value": i / 10,
            }
            for i in range(n)
        ],
        schema=ARROW_SCHEMA,
    )


def summary(table: Table) -> Summary:
    snapshot = table.current_snapshot()
    assert snapshot is not None
    assert snapshot.summary is not None
    return snapshot.summary


def watermark(table: Table) -> str | None:
    return summary(table)[WATERMARK_KEY]


def files(table: Table) -> list[DataFile]:
    return [task.file for task in table.scan().plan_files()]


def glue_catalog(aws: AwsEnv) -> Catalog:
    """A new catalog object each call: nothing cached between 'processes'."""
    return load_catalog("moto-test", **aws.glue_catalog_properties())


@pytest.fixture
def table_name(aws_env: AwsEnv) -> str:
    """Bucket and Glue database exist (created over HTTP); returns ``db.events``."""
    aws_env.client("s3").create_bucket(Bucket=aws_env.bucket)
    glue_catalog(aws_env).create_namespace(aws_env.database)
    return f"{aws_env.database}.events"


def test_append_reload_scan_and_stale_commit(aws_env: AwsEnv, table_name: str) -> None:
    created = glue_catalog(aws_env).create_table(
        table_name, schema=SCHEMA, partition_spec=SPEC, properties=NO_COMMIT_RETRIES
    )
    assert created.location().startswith(f"{aws_env.warehouse}/")

    data = events(ROWS)
    created.append(data, snapshot_properties={WATERMARK_KEY: '{"s0": 10}'})

    # Reload from a brand-new catalog: everything comes back over HTTP from Glue and S3.
    table = glue_catalog(aws_env).load_table(table_name)
    scanned = table.scan().to_arrow()
    assert scanned.num_rows == ROWS
    assert sorted(scanned["event_id"].to_pylist()) == data["event_id"].to_pylist()
    assert scanned["event_timestamp"].type == pa.timestamp("us", tz="UTC")

    assert watermark(table) == '{"s0": 10}'
    assert summary(table)["added-records"] == str(ROWS)

    # The data files are really in the bucket, one day partition each.
    s3 = aws_env.client("s3")
    table_prefix = table.location().removeprefix(f"s3://{aws_env.bucket}/")
    listed = s3.list_objects_v2(Bucket=aws_env.bucket, Prefix=f"{table_prefix}/data/")
    data_keys = sorted(obj["Key"] for obj in listed.get("Contents", []))
    assert len(data_keys) == DAYS
    assert all(key.endswith(".parquet") for key in data_keys)
    days = {(START + dt.timedelta(days=d)).date().isoformat() for d in range(DAYS)}
    assert {key.split("event_day=")[1].split("/")[0] for key in data_keys} == days
    assert {f.file_path for f in files(table)} == {f"s3://{aws_env.bucket}/{k}" for k in data_keys}

    # Glue holds the pointer to the current metadata file, which exists in S3.
    glue_table = aws_env.client("glue").get_table(DatabaseName=aws_env.database, Name="events")
    params = glue_table["Table"]["Parameters"]
    assert params["table_type"].upper() == "ICEBERG"
    metadata_location = params["metadata_location"]
    assert metadata_location == table.metadata_location
    assert metadata_location.startswith(f"s3://{aws_env.bucket}/{table_prefix}/metadata/")
    assert metadata_location.endswith(".metadata.json")
    s3.head_object(
        Bucket=aws_env.bucket, Key=metadata_location.removeprefix(f"s3://{aws_env.bucket}/")
    )

    # Optimistic concurrency: a writer holding stale metadata cannot commit. pyiceberg retries
    # failed commits by default; this table turns that off, so the conflict surfaces.
    stale = glue_catalog(aws_env).load_table(table_name)
    glue_catalog(aws_env).load_table(table_name).append(
        events(30, prefix="w"), snapshot_properties={WATERMARK_KEY: '{"s0": 20}'}
    )
    with pytest.raises(CommitFailedException):
        stale.append(events(30, prefix="x"), snapshot_properties={WATERMARK_KEY: '{"s0": 15}'})

    final = glue_catalog(aws_env).load_table(table_name)
    assert watermark(final) == '{"s0": 20}'
    ids = final.scan().to_arrow()["event_id"].to_pylist()
    assert len(ids) == ROWS + 30
    assert not any(event_id.startswith("x") for event_id in ids)
    # pyiceberg deletes the failed commit's manifests but not its data files: those stay in
    # the bucket as orphans (one per day partition), referenced by no snapshot.
    listed = s3.list_objects_v2(Bucket=aws_env.bucket, Prefix=f"{table_prefix}/data/")
    in_bucket = {f"s3://{aws_env.bucket}/{obj['Key']}" for obj in listed["Contents"]}
    in_table = {f.file_path for f in files(final)}
    assert in_table < in_bucket
    assert len(in_bucket - in_table) == DAYS


def test_stale_append_is_rebased_by_default(aws_env: AwsEnv, table_name: str) -> None:
    """Documents pyiceberg 0.12: with default table properties a stale append does NOT fail.

    ``Transaction.commit_transaction`` catches ``CommitFailedException``, refreshes the table and
    re-applies the append on top of the new snapshot (``commit.retry.num-retries``, default 4).
    The stale writer's snapshot properties are committed as given, so a watermark decided from
    stale metadata would land (and could move the watermark backwards). Code that relies on
    the snapshot watermark for exactly-once must set ``commit.retry.num-retries=0`` (or check
    the watermark again on every attempt).
    """
    glue_catalog(aws_env).create_table(table_name, schema=SCHEMA, partition_spec=SPEC)
    stale = glue_catalog(aws_env).load_table(table_name)
    glue_catalog(aws_env).load_table(table_name).append(
        events(30, prefix="w"), snapshot_properties={WATERMARK_KEY: '{"s0": 20}'}
    )
    stale.append(events(30, prefix="x"), snapshot_properties={WATERMARK_KEY: '{"s0": 15}'})

    final = glue_catalog(aws_env).load_table(table_name)
    assert watermark(final) == '{"s0": 15}'
    assert len(final.history()) == 2
    assert final.scan().to_arrow().num_rows == 60


def test_moto_glue_ignores_version_id(aws_env: AwsEnv, table_name: str) -> None:
    """Documents a moto gap: Glue ``UpdateTable`` does not check ``VersionId``.

    Real Glue rejects an update whose ``VersionId`` is not the current one with
    ``ConcurrentModificationException``, which pyiceberg turns into ``CommitFailedException``.
    moto 5.2 accepts it. pyiceberg still catches stale writers (it re-reads the Glue table and
    checks its requirements before writing, see the test above), but two commits racing inside
    that read-then-update window are only caught by real Glue. If this test starts failing,
    moto has learned conditional updates: replace it with a test that relies on them.
    """
    glue_catalog(aws_env).create_table(table_name, schema=SCHEMA, partition_spec=SPEC)
    glue = aws_env.client("glue")
    current = glue.get_table(DatabaseName=aws_env.database, Name="events")["Table"]
    stale_version = current["VersionId"]

    def table_input(comment: str) -> dict[str, Any]:
        keep = ("Name", "TableType", "Parameters", "StorageDescriptor")
        return {**{k: current[k] for k in keep if k in current}, "Description": comment}

    glue.update_table(
        DatabaseName=aws_env.database, TableInput=table_input("first"), VersionId=stale_version
    )
    # Same (now stale) VersionId again: real Glue would raise ConcurrentModificationException.
    glue.update_table(
        DatabaseName=aws_env.database, TableInput=table_input("second"), VersionId=stale_version
    )
    after = glue.get_table(DatabaseName=aws_env.database, Name="events")["Table"]
    assert after["Description"] == "second"
    assert after["VersionId"] != stale_version
