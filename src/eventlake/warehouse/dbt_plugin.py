"""The dbt-duckdb plugin behind the `local` target: the lake's tables as views in `lake`.

profiles.yml names it (`plugins: [{module: eventlake.warehouse.dbt_plugin}]`); dbt-duckdb calls
`configure_connection` when it opens the warehouse, so every `dbt` command, run by hand or by
`eventlake transform`, reads the lake's current snapshots. The catalog comes from the same
settings (EVENTLAKE_* environment) as the rest of eventlake.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from eventlake.config import Settings
from eventlake.warehouse.lake_views import refresh_lake_views


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.settings = Settings()

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        refresh_lake_views(conn, self.settings)
