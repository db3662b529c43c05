"""Settings: one pydantic-settings class, env prefix ``EVENTLAKE_``, built by ``get_settings()``.

Defaults need no credentials: a fresh clone runs end to end with nothing configured, and all
embedded state lives under ``EVENTLAKE_HOME`` (default ``./.eventlake``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SqlCatalogSettings(BaseModel):
    """pyiceberg's SQL catalog: SQLite under EVENTLAKE_HOME by default, or any SQLAlchemy URL."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sql"] = "sql"
    uri: str | None = Field(default=None, description="SQLAlchemy URL; default HOME/catalog.db.")
    warehouse: str | None = Field(
        default=None, description="Where table files go; default the folder HOME/lake."
    )


class GlueCatalogSettings(BaseModel):
    """AWS Glue as the catalog, S3 as storage. Credentials come from the usual AWS chain."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["glue"]
    warehouse: str = Field(pattern=r"^s3a?://[^/]+", description="s3://bucket/prefix")
    region: str = "us-east-1"
    glue_endpoint: str | None = Field(default=None, description="Only for Glue look-alikes.")
    s3_endpoint: str | None = Field(default=None, description="Only for S3 look-alikes.")


CatalogSettings = Annotated[SqlCatalogSettings | GlueCatalogSettings, Field(discriminator="kind")]


class LakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    catalog: CatalogSettings = Field(default_factory=SqlCatalogSettings)
    namespace: str = Field(default="eventlake", pattern=r"^[a-z_][a-z0-9_]{0,127}$")
    zstd_level: int = Field(default=1, ge=1, le=22)
    encode_threads: int = Field(
        default=0, ge=0, le=256, description="Threads encoding Parquet files; 0: one per CPU."
    )
    commit_attempts: int = Field(
        default=20, ge=1, le=1000, description="Tries per commit when writers race."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EVENTLAKE_", env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Field(
        default=Path(".eventlake"), description="Folder that holds all embedded state."
    )
    contracts_dir: Path = Field(
        default=PROJECT_ROOT / "contracts", description="Folder of the YAML data contracts."
    )
    max_record_bytes: int = Field(default=1_048_576, gt=0, le=64 * 1_048_576)
    max_decompressed_bytes: int = Field(default=1 << 30, gt=0)
    dedup_window: int = Field(
        default=10_000_000, gt=0, description="Keys remembered across batches for deduplication."
    )

    lake: LakeSettings = Field(default_factory=LakeSettings)

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


@lru_cache
def get_settings() -> Settings:
    return Settings()
