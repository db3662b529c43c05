"""What a consumer reports: per commit, per dataset, per drain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BatchReport:
    """One lake commit of a dataset's stream."""

    dataset: str
    records: int  # stream records (one per accepted request)
    received: int  # events in them
    landed: int
    dead_lettered: int
    duplicates: int
    snapshot_id: int | None
    skipped: bool
    seconds: float


@dataclass
class DatasetReport:
    dataset: str
    batches: int = 0
    records: int = 0
    received: int = 0
    landed: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    snapshot_ids: list[int] = field(default_factory=list)

    def add(self, batch: BatchReport) -> None:
        self.batches += 1
        self.records += batch.records
        self.received += batch.received
        self.landed += batch.landed
        self.dead_lettered += batch.dead_lettered
        self.duplicates += batch.duplicates
        if batch.snapshot_id is not None:
            self.snapshot_ids.append(batch.snapshot_id)


@dataclass
class DrainReport:
    datasets: dict[str, DatasetReport] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def landed(self) -> int:
        return sum(d.landed for d in self.datasets.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "datasets": {
                name: {
                    "batches": d.batches,
                    "records": d.records,
                    "received": d.received,
                    "landed": d.landed,
                    "dead_lettered": d.dead_lettered,
                    "duplicates": d.duplicates,
                    "snapshot_ids": [str(s) for s in d.snapshot_ids],
                }
                for name, d in self.datasets.items()
            },
        }
