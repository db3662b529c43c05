"""The Iceberg catalog, chosen by settings: SQLite + local files by default, PostgreSQL (any
SQLAlchemy URL) when several machines share it, Glue + S3 in AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog

from eventlake.config import GlueCatalogSettings, Settings, SqlCatalogSettings
from eventlake.state.database import create_tables

CATALOG_NAME = "eventlake"


def catalog_properties(settings: Settings) -> dict[str, str]:
    """pyiceberg properties for the configured catalog (no secrets: AWS keys stay in the
    environment's credential chain)."""
    catalog = settings.lake.catalog
    if isinstance(catalog, SqlCatalogSettings):
        home = settings.home.resolve()
        sql = {
            "uri": catalog.uri or f"sqlite:///{home / 'catalog.db'}",
            "warehouse": catalog.warehouse or (home / "lake").as_uri(),
        }
        if not sql["uri"].startswith("sqlite"):
            # A server (PostgreSQL): a pooled connection it closed (a restart, a failover, an
            # idle timeout) is replaced before use instead of failing a commit.
            sql["pool_pre_ping"] = "true"
        # An s3:// warehouse (the compose stack's, on moto): where S3 is and its region.
        if catalog.region:
            sql["s3.region"] = catalog.region
        if catalog.s3_endpoint:
            sql["s3.endpoint"] = catalog.s3_endpoint
        return sql
    assert isinstance(catalog, GlueCatalogSettings)  # noqa: S101 — narrows the type for mypy; holds by construction
    properties = {
        "warehouse": catalog.warehouse.rstrip("/"),
        "glue.region": catalog.region,
        "s3.region": catalog.region,
    }
    if catalog.glue_endpoint:
        properties["glue.endpoint"] = catalog.glue_endpoint
    if catalog.s3_endpoint:
        properties["s3.endpoint"] = catalog.s3_endpoint
    return properties


def open_catalog(settings: Settings) -> Catalog:
    properties = catalog_properties(settings)
    if isinstance(settings.lake.catalog, SqlCatalogSettings):
        if settings.lake.catalog.uri is None:
            settings.home.mkdir(parents=True, exist_ok=True)
        if settings.lake.catalog.warehouse is None:
            (settings.home / "lake").mkdir(parents=True, exist_ok=True)
        from pyiceberg.catalog.sql import SqlCatalog, SqlCatalogBaseTable

        # pyiceberg creates the catalog's tables when it finds none, and several processes
        # opening a new catalog at once (a deploy starting the API and the consumers) then
        # fail on each other's tables: ours are created the way the job state's are, safe
        # under that race (one after the other on PostgreSQL).
        catalog = SqlCatalog(CATALOG_NAME, **properties, init_catalog_tables="false")
        create_tables(catalog.engine, SqlCatalogBaseTable.metadata)
        return catalog
    from pyiceberg.catalog.glue import GlueCatalog  # boto3: only imported for AWS

    glue = settings.lake.catalog
    assert isinstance(glue, GlueCatalogSettings)  # noqa: S101 — narrows the type for mypy; holds by construction
    # An int: pyiceberg hands it to botocore's Config as it is.
    retries: dict[str, Any] = {"glue.max-retries": glue.glue_max_retries}
    return GlueCatalog(CATALOG_NAME, **properties, **retries)


def describe(settings: Settings) -> str:
    """Where the lake is, for people: no credentials, no query strings."""
    properties = catalog_properties(settings)
    kind = settings.lake.catalog.kind
    where = properties["warehouse"]
    if kind == "sql":
        uri = properties["uri"]
        shown = uri if uri.startswith("sqlite") else uri.split("@")[-1]
        return f"SQL catalog {shown}, warehouse {where}"
    return f"Glue catalog ({properties['glue.region']}), warehouse {where}"


def local_path(uri: str) -> Path | None:
    """The local path of a file:// location, None for object stores."""
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    if "://" not in uri:
        return Path(uri)
    return None
