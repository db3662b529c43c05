"""The dbt-duckdb plugin behind the `local` target: the lake's tables as views in `lake`.

profiles.yml names it (`plugins: [{module: eventlake.warehouse.dbt_plugin}]`); dbt-duckdb calls
`configure_connection` when it opens the warehouse, so every `dbt` command, run by hand or by
`eventlake transform`, reads the lake's current snapshots. The catalog comes from the
settings `eventlake transform` passes down, or from the EVENTLAKE_* environment when dbt is run
by hand.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from eventlake.warehouse.dbt_runner import settings_for_plugin
from eventlake.warehouse.lake_views import refresh_lake_views


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.settings = settings_for_plugin()

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        refresh_lake_views(conn, self.settings)
