"""Settings: one pydantic-settings class, env prefix ``EVENTLAKE_``, built by ``get_settings()``.

Defaults need no credentials: a fresh clone runs end to end with nothing configured, and all
embedded state lives under ``EVENTLAKE_HOME`` (default ``./.eventlake``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


@lru_cache
def get_settings() -> Settings:
    return Settings()
