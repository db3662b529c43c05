"""The stack's one-shot set-up (compose.yaml's `init` service), before the API and consumers.

In a real deployment these exist already (Terraform makes the bucket; a migration job the
tables). Here moto starts empty and four processes would otherwise race to create the same
things on first use: the lake's bucket on S3, the job-state tables and the Iceberg SQL
catalog's tables in PostgreSQL, the namespace and one table per dataset plus the dead-letter
table. Idempotent: a second run changes nothing.
"""

from __future__ import annotations

from urllib.parse import urlparse

import boto3

from eventlake.config import SqlCatalogSettings, get_settings
from eventlake.contracts import DATASETS, load_contract
from eventlake.lake import Lake
from eventlake.state.store import open_state


def main() -> None:
    settings = get_settings()
    catalog = settings.lake.catalog
    # compose.yaml sets both: the Postgres catalog, an s3:// warehouse.
    assert isinstance(catalog, SqlCatalogSettings)
    assert catalog.warehouse
    bucket = urlparse(catalog.warehouse).netloc
    s3 = boto3.client("s3", endpoint_url=catalog.s3_endpoint, region_name=catalog.region)
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
    open_state(settings.state_database_url).close()
    lake = Lake(settings)
    for dataset in DATASETS:
        lake.ensure_dataset(load_contract(dataset))
    lake.ensure_dead_letter()
    print(f"init: bucket {bucket}, job state, catalog and tables ready")


if __name__ == "__main__":
    main()
