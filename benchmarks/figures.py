"""Where `make bench` keeps its figures: one JSON file per benchmark under
``$EVENTLAKE_HOME/reports/``, each with the machine it ran on, so that a figure is never read
without knowing what produced it. ``guard.py`` reads them back."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventlake.config import get_settings


def reports_dir() -> Path:
    return get_settings().home / "reports"


def machine() -> dict[str, Any]:
    """What the figures were measured on: ratios compare like with like only on one machine."""
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = (line.split(":", 1)[1] for line in cpuinfo if line.startswith("model name"))
            model = next(names, "").strip()
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        # The load when the benchmark started: figures from a busy machine are noisier.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def save(name: str, figures: dict[str, Any], directory: Path | None = None) -> Path:
    """``figures`` (and the machine's description) as ``bench_<name>.json``; its path."""
    directory = directory or reports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench_{name}.json"
    path.write_text(json.dumps({"machine": machine(), **figures}, indent=2))
    return path
