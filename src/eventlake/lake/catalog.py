"""The Iceberg catalog, chosen by settings: SQLite + local files by default, Glue + S3 in AWS."""

from __future__ import annotations

from pathlib import Path

from pyiceberg.catalog import Catalog

from eventlake.config import GlueCatalogSettings, Settings, SqlCatalogSettings

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
        # An s3:// warehouse (the compose stack's, on moto): where S3 is and its region.
        if catalog.region:
            sql["s3.region"] = catalog.region
        if catalog.s3_endpoint:
            sql["s3.endpoint"] = catalog.s3_endpoint
        return sql
    assert isinstance(catalog, GlueCatalogSettings)
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
        from pyiceberg.catalog.sql import SqlCatalog
        from sqlalchemy.exc import OperationalError

        try:
            return SqlCatalog(CATALOG_NAME, **properties)
        except OperationalError as error:
            # Two processes opening a new catalog both create its tables; the loser sees
            # "already exists". The tables are there now: open it again.
            if "already exists" not in str(error):
                raise
            return SqlCatalog(CATALOG_NAME, **properties)
    from pyiceberg.catalog.glue import GlueCatalog  # boto3: only imported for AWS

    return GlueCatalog(CATALOG_NAME, **properties)


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
