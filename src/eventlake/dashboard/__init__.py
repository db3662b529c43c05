"""The dashboard: a Streamlit app (``app.py``) over two small libraries.

* :mod:`eventlake.dashboard.queries` — what the charts show, read from the warehouse's marts.
* :mod:`eventlake.dashboard.health` — the pipeline's health: the API's live metrics, recent
  jobs and runs from the state database, the quality gate's summary, the report sites.

Both are plain functions returning pandas frames and dicts, testable without Streamlit.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def streamlit_command(host: str, port: int) -> list[str]:
    """``streamlit run`` on the app, headless, on ``host:port``: what ``eventlake dashboard``
    runs (in its own process) and ``eventlake run --serve`` starts as a child."""
    command = [sys.executable, "-m", "streamlit", "run", str(APP)]
    command += ["--server.headless", "true", "--server.address", host]
    command += ["--server.port", str(port), "--browser.gatherUsageStats", "false"]
    return command
