"""What a quality run found, as plain data: kept as JSON, shown by the CLI, sent as an alert."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ExpectationResult:
    suite: str
    expectation: str  # the GX type, e.g. expect_column_values_to_not_be_null
    column: str | None
    success: bool
    observed: str  # what was seen, in words: "1 of 5 rows (20.0%), e.g. [None]"
    kwargs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the expectation could not be evaluated (a missing column)


@dataclass(frozen=True)
class SuiteResult:
    name: str
    rows: int
    expectations: tuple[ExpectationResult, ...]

    @property
    def success(self) -> bool:
        return all(e.success for e in self.expectations)

    @property
    def failed(self) -> tuple[ExpectationResult, ...]:
        return tuple(e for e in self.expectations if not e.success)


@dataclass(frozen=True)
class QualityReport:
    suites: tuple[SuiteResult, ...]
    started_at: datetime
    seconds: float
    warehouse: str
    data_docs: Path  # the index.html of the Data Docs
    summary_path: Path  # where the JSON summary is kept
    lake_snapshot_id: int | None = None

    @property
    def success(self) -> bool:
        return all(s.success for s in self.suites)

    @property
    def failed(self) -> tuple[ExpectationResult, ...]:
        return tuple(e for s in self.suites for e in s.failed)

    @property
    def evaluated(self) -> int:
        return sum(len(s.expectations) for s in self.suites)

    @property
    def headline(self) -> str:
        if self.success:
            return (
                f"quality gate passed: {self.evaluated} expectations in {len(self.suites)} suites"
            )
        failed_suites = [s.name for s in self.suites if not s.success]
        return (
            f"quality gate failed: {len(self.failed)} of {self.evaluated} expectations in "
            f"{len(failed_suites)} suites ({', '.join(failed_suites)})"
        )

    def to_dict(self, *, all_expectations: bool = True) -> dict[str, Any]:
        """JSON-ready; without ``all_expectations`` only the failures are listed per suite."""
        return {
            "success": self.success,
            "summary": self.headline,
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "warehouse": self.warehouse,
            # A string: a 64-bit id does not survive JSON readers that use doubles.
            "lake_snapshot_id": None
            if self.lake_snapshot_id is None
            else str(self.lake_snapshot_id),
            "data_docs": str(self.data_docs),
            "summary_path": str(self.summary_path),
            "evaluated": self.evaluated,
            "failed": len(self.failed),
            "suites": [
                {
                    "name": suite.name,
                    "rows": suite.rows,
                    "success": suite.success,
                    "evaluated": len(suite.expectations),
                    "failed": len(suite.failed),
                    **(
                        {"expectations": [_plain(asdict(e)) for e in suite.expectations]}
                        if all_expectations
                        else {}
                    ),
                }
                for suite in self.suites
            ],
            "failures": [_plain(asdict(e)) for e in self.failed],
        }


def write_summary(report: QualityReport) -> Path:
    """Write the JSON summary (atomically: a reader never sees half a file)."""
    path = report.summary_path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars, timestamps, NaN (as null) and tuples made plain."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def describe_value(value: Any) -> str:
    """A short, readable rendering of one observed value."""
    plain = _plain(value)
    if isinstance(plain, str):
        return repr(plain)
    return json.dumps(plain)
