"""The production configuration: Glue as the catalog and S3 as storage, on a moto server
started by the tests and reached over real HTTP (not patched in-process). The same Lake code
path as the embedded default, chosen by settings alone."""

from __future__ import annotations

from datetime import timedelta

import data_processor_rs
import pytest

from eventlake.config import GlueCatalogSettings, LakeSettings, Settings, SqlCatalogSettings
from eventlake.lake import DEAD_LETTER_TABLE, Lake, SequenceRange
from eventlake.lake.maintenance import compact, expire, inspect
from tests.aws import AwsEnv, aws_settings
from tests.lake.conftest import RECEIVED_AT, process, sample_body


@pytest.fixture
def aws_lake(aws_env: AwsEnv, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    aws_env.client("s3").create_bucket(Bucket=aws_env.bucket)
    return Lake(aws_settings(aws_env, tmp_path_factory.mktemp("home")))


def test_settings_alone_select_glue_and_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLAKE_LAKE__CATALOG__KIND", "glue")
    monkeypatch.setenv("EVENTLAKE_LAKE__CATALOG__WAREHOUSE", "s3://bucket/lake")
    monkeypatch.setenv("EVENTLAKE_LAKE__CATALOG__REGION", "eu-west-1")
    settings = Settings()
    assert isinstance(settings.lake.catalog, GlueCatalogSettings)
    assert settings.lake.catalog.region == "eu-west-1"


def test_commit_replay_and_maintenance_on_glue_and_s3(
    aws_lake: Lake, aws_env: AwsEnv, events_contract: data_processor_rs.Contract
) -> None:
    aws_lake.ensure_dataset(events_contract)
    aws_lake.ensure_dead_letter()
    batches = [process(sample_body(300, seed=s, days=2), events_contract) for s in (1, 2)]
    for sequence, batch in enumerate(batches):
        result = aws_lake.commit_processed(
            batch,
            ranges={"shardId-000": SequenceRange(sequence, sequence)},
            job_id=f"job-{sequence}",
            source="aws-test",
            received_at=RECEIVED_AT,
        )
        assert not result.skipped

    # A fresh Lake (a restarted consumer) sees everything through Glue and S3.
    again = Lake(aws_lake.settings)
    assert again.watermark("events") == {"shardId-000": 1}
    replay = again.commit_processed(
        batches[1],
        ranges={"shardId-000": SequenceRange(1, 1)},
        job_id="job-1",
        source="aws-test",
        received_at=RECEIVED_AT,
    )
    assert replay.skipped
    rows = again.table("events").scan().to_arrow()
    assert rows.num_rows == sum(len(b) for b in batches)
    assert len(set(rows.column("event_id").to_pylist())) == rows.num_rows
    dead = again.table(DEAD_LETTER_TABLE).scan().to_arrow()
    assert dead.num_rows == sum(b.num_rejected for b in batches)

    glue = aws_env.client("glue").get_table(DatabaseName=aws_env.database, Name="events")
    assert glue["Table"]["Parameters"]["metadata_location"].startswith(f"s3://{aws_env.bucket}/")
    listed = aws_env.client("s3").list_objects_v2(Bucket=aws_env.bucket, Prefix="warehouse/")
    keys = [o["Key"] for o in listed["Contents"]]
    assert any(k.endswith(".parquet") and "/data/event_timestamp_day=" in k for k in keys)

    report = inspect(again, "events")
    assert report.orphan_files == ()
    assert report.watermark == {"shardId-000": 1}
    compacted = compact(again, "events")
    assert compacted.files_removed > 0
    expired = expire(again, "events", older_than=timedelta(0))
    assert expired.deleted_files > 0
    assert expired.watermark == {"shardId-000": 1}
    assert again.table("events").scan().to_arrow().num_rows == rows.num_rows


def test_sql_catalog_with_an_s3_warehouse(
    aws_env: AwsEnv,
    tmp_path_factory: pytest.TempPathFactory,
    events_contract: data_processor_rs.Contract,
) -> None:
    """The compose stack's shape: pyiceberg's SQL catalog (SQLite here, Postgres there) with
    the table files on S3, its endpoint and region from settings."""
    aws_env.client("s3").create_bucket(Bucket=aws_env.bucket)
    home = tmp_path_factory.mktemp("home")
    settings = Settings.model_validate(
        {
            "home": home,
            "lake": LakeSettings(
                catalog=SqlCatalogSettings(
                    warehouse=aws_env.warehouse,
                    region=aws_env.region,
                    s3_endpoint=aws_env.endpoint_url,
                )
            ),
        }
    )
    lake = Lake(settings)
    lake.ensure_dataset(events_contract)
    lake.ensure_dead_letter()
    batch = process(sample_body(100, seed=3, days=1), events_contract)
    lake.commit_processed(
        batch,
        ranges={"shardId-000": SequenceRange(0, 0)},
        job_id="job-0",
        source="aws-test",
        received_at=RECEIVED_AT,
    )
    again = Lake(settings)
    assert again.table("events").scan().to_arrow().num_rows == len(batch)
    assert again.table(DEAD_LETTER_TABLE).scan().to_arrow().num_rows == batch.num_rejected
    listed = aws_env.client("s3").list_objects_v2(Bucket=aws_env.bucket, Prefix="warehouse/")
    assert any(o["Key"].endswith(".parquet") for o in listed["Contents"])
    assert (home / "catalog.db").exists()
    assert not (home / "lake").exists()
