"""``eventlake dashboard``: the Streamlit dashboard."""

import os
from typing import Annotated

import typer

from eventlake.cli.common import backend_extras, console, load_settings, require_extras


def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8501,
) -> None:
    """Run the dashboard (Streamlit): the warehouse's KPIs, funnel, revenue and drill-downs,
    and the pipeline's health (the API's live metrics, runs, dbt tests, quality gates)."""
    import sys

    settings = load_settings()
    require_extras("eventlake dashboard", "dashboard", *backend_extras(settings))
    from eventlake.dashboard import streamlit_command

    console.print(
        f"eventlake dashboard on http://{host}:{port}, warehouse {settings.duckdb_path}",
        highlight=False,
    )
    # Streamlit takes over this process: its Ctrl-C handling and exit code are the command's.
    os.execv(sys.executable, streamlit_command(host, port))  # noqa: S606 — execs our own interpreter with streamlit's fixed arguments
