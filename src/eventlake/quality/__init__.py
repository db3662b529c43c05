"""Quality gates (Great Expectations 1.x) over the warehouse's staging and mart tables.

``quality_gate(settings)`` is the pipeline function (``eventlake quality``, ``POST
/api/v1/trigger/quality``): it validates every suite of :mod:`eventlake.quality.suites`, writes
the Data Docs and a JSON summary under ``EVENTLAKE_HOME/reports/quality``, alerts, and raises
``RunFailedError`` when an expectation fails. Importing this package does not import Great
Expectations; running the gates does.
"""

from eventlake.quality.gate import (
    data_docs_dir,
    quality_gate,
    run_quality,
    summary_path,
)
from eventlake.quality.report import ExpectationResult, QualityReport, SuiteResult
from eventlake.quality.sources import (
    QualityError,
    ReaderWarehouse,
    Warehouse,
    open_warehouse,
)

__all__ = [
    "ExpectationResult",
    "QualityError",
    "QualityReport",
    "ReaderWarehouse",
    "SuiteResult",
    "Warehouse",
    "data_docs_dir",
    "open_warehouse",
    "quality_gate",
    "run_quality",
    "summary_path",
]
