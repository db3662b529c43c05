"""Stream positions a table already holds: the key to committing each record exactly once.

A position key names one ordered source (a stream shard such as ``events/shardId-000``, or a
file) and maps to the highest sequence number committed from it. Every eventlake commit
records, atomically with the data:

* in its snapshot summary, the positions it covers (``eventlake.ranges``: per key, the first
  and last sequence number) and its job ids (``eventlake.job-ids``); and
* in the table property ``eventlake.watermark``, the whole map after the commit. A property
  survives snapshot expiry and commits by other engines (a compaction job, Spark), and keeping
  the map out of the summaries keeps metadata linear in the number of commits.

Reading merges the property with the ranges of the newest snapshot that has them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from eventlake.errors import EventlakeError

WATERMARK = "eventlake.watermark"
RANGES = "eventlake.ranges"
JOB_IDS = "eventlake.job-ids"


@dataclass(frozen=True)
class SequenceRange:
    """The sequence numbers of one source that a commit covers, both ends included."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"empty sequence range {self.first}..{self.last}")


class WatermarkOverlapError(EventlakeError, ValueError):
    """A commit covers positions partly committed already: the caller resumed in the wrong
    place. Committing it would duplicate rows, skipping it would lose rows."""


def parse(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"unreadable {WATERMARK}: {error}") from error
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        raise ValueError(f"{WATERMARK} must map position keys to integers, got {text[:200]!r}")
    return value


def dump(watermark: Mapping[str, int]) -> str:
    return json.dumps(dict(sorted(watermark.items())), separators=(",", ":"))


def dump_ranges(ranges: Mapping[str, SequenceRange]) -> str:
    return json.dumps(
        {k: [r.first, r.last] for k, r in sorted(ranges.items())}, separators=(",", ":")
    )


def merge(*watermarks: Mapping[str, int]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for watermark in watermarks:
        for key, value in watermark.items():
            merged[key] = max(value, merged.get(key, value))
    return merged


def lineage(table: Table) -> Iterable[Snapshot]:
    """The current snapshot and its ancestors that are still in the metadata, newest first."""
    snapshot = table.current_snapshot()
    while snapshot is not None:
        yield snapshot
        if snapshot.parent_snapshot_id is None:
            return
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id)


def summary_ranges(snapshot: Snapshot) -> dict[str, int] | None:
    """Per key, the last position a snapshot's commit covered; None for foreign snapshots."""
    summary = snapshot.summary
    if summary is None or RANGES not in summary.additional_properties:
        return None
    try:
        ranges = json.loads(summary.additional_properties[RANGES])
        return {str(key): int(last) for key, (_, last) in ranges.items()}
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"unreadable {RANGES} in snapshot {snapshot.snapshot_id}") from error


def read(table: Table) -> dict[str, int]:
    """The table's watermark: the property, and the newest eventlake snapshot's ranges."""
    from_summary: dict[str, int] = {}
    for snapshot in lineage(table):
        found = summary_ranges(snapshot)
        if found is not None:
            from_summary = found
            break
    return merge(parse(table.properties.get(WATERMARK)), from_summary)


def covered(watermark: Mapping[str, int], ranges: Mapping[str, SequenceRange]) -> bool:
    """True when the table holds every range already (a replay: skip it), False when it holds
    none of them. Anything in between is a WatermarkOverlapError."""
    if not ranges:
        raise ValueError("a commit must say which positions it covers")
    done = [key for key, r in ranges.items() if r.last <= watermark.get(key, -1)]
    partial = [
        f"{key}: committed up to {watermark[key]}, commit covers {r.first}..{r.last}"
        for key, r in ranges.items()
        if key in watermark and r.first <= watermark[key] < r.last
    ]
    if partial or (done and len(done) != len(ranges)):
        details = partial or [f"already committed: {', '.join(sorted(done))}"]
        raise WatermarkOverlapError(
            "commit overlaps what the table holds; resume after the watermark: "
            + "; ".join(details)
        )
    return bool(done)


def advanced(watermark: Mapping[str, int], ranges: Mapping[str, SequenceRange]) -> dict[str, int]:
    return merge(watermark, {key: r.last for key, r in ranges.items()})
