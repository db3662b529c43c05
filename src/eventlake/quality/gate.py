"""The quality gate: read the warehouse and the lake, validate, report, alert, pass or fail."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventlake.config import Settings
from eventlake.errors import RunFailedError
from eventlake.quality.alerts import alert
from eventlake.quality.report import QualityReport, write_summary
from eventlake.quality.sources import (
    Frame,
    Warehouse,
    count_lake_events,
    open_warehouse,
    reconciliation_frame,
    references_frame,
)
from eventlake.quality.suites import RECONCILIATION_SUITE, REFERENCES_SUITE, plan

log = logging.getLogger(__name__)


def quality_dir(settings: Settings) -> Path:
    return settings.reports_dir / "quality"


def data_docs_dir(settings: Settings) -> Path:
    return quality_dir(settings) / "data_docs"


def summary_path(settings: Settings) -> Path:
    return quality_dir(settings) / "latest.json"


def run_quality(
    settings: Settings, *, warehouse: Warehouse | None = None, now: datetime | None = None
) -> QualityReport:
    """Validate every suite and rebuild the Data Docs; raises QualityError if it cannot run."""
    started = datetime.now(UTC)
    began = time.perf_counter()
    moment = (now or started).astimezone(UTC).replace(tzinfo=None)  # stored naive, in UTC
    latest_allowed = moment + timedelta(minutes=settings.quality.future_tolerance_minutes)
    suite_plan = plan(latest_allowed)

    owned = warehouse is None
    source = open_warehouse(settings) if warehouse is None else warehouse
    try:
        frames: dict[str, Frame] = {
            table.qualified: source.read_table(table.schema, table.name)
            for table in suite_plan.tables
        }
    finally:
        if owned:
            source.close()
    lake = count_lake_events(settings)
    facts = frames["marts.fact_events"]
    frames[REFERENCES_SUITE] = references_frame(
        facts, frames["marts.dim_users"], frames["marts.dim_products"]
    )
    frames[RECONCILIATION_SUITE] = reconciliation_frame(lake, facts)

    from eventlake.quality.validate import run_suites

    docs = data_docs_dir(settings)
    building = docs.with_name(f".{docs.name}.{uuid.uuid4().hex[:8]}")
    try:
        suites = run_suites(suite_plan.suites, frames, building)
        _replace_dir(building, docs)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return QualityReport(
        suites=suites,
        started_at=started,
        seconds=time.perf_counter() - began,
        warehouse=source.description,
        data_docs=docs / "index.html",
        summary_path=summary_path(settings),
        lake_snapshot_id=lake.snapshot_id,
    )


def _replace_dir(new: Path, target: Path) -> None:
    """Put the freshly built site in place of the last one (no mix of two runs' pages)."""
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def quality_gate(settings: Settings) -> Mapping[str, Any]:
    """The pipeline function: run, keep the JSON summary, alert; a failing gate raises
    ``RunFailedError`` (the run is recorded as failed, with this result)."""
    report = run_quality(settings)
    write_summary(report)
    alert(report, settings)
    result = report.to_dict(all_expectations=False)
    if not report.success:
        raise RunFailedError(report.headline, result)
    return result
