"""What a batch of the consumer holds between reading and committing: the records read and
processed per shard (``Pending``), and each record on its way through the core."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import data_processor_rs
import pyarrow as pa

from eventlake.config import ConsumerSettings
from eventlake.state import JobProgress
from eventlake.stream.base import OutgoingRecord


@dataclass
class Pending:
    """What a batch has read and processed but not committed yet."""

    rows: list[pa.RecordBatch] = field(default_factory=list)
    dead_letters: list[tuple[str, int, pa.Table]] = field(default_factory=list)
    first: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    jobs: list[JobProgress] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)
    # Events of other shards' keys, published again to their owners before the commit.
    forwards: list[OutgoingRecord] = field(default_factory=list)
    records: int = 0
    received: int = 0
    landed: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    # The Arrow size of ``rows`` and ``dead_letters``, added up as they come in (see nbytes).
    held_bytes: int = 0

    # The same, per shard position key: what is left out when a shard's lease is lost.
    parts: dict[str, Pending] = field(default_factory=dict)

    def saw(self, key: str, sequence_number: int) -> None:
        self.first.setdefault(key, sequence_number)
        self.last[key] = sequence_number
        self.records += 1

    def without(self, keys: set[str]) -> Pending:
        """This batch without the parts of the shards ``keys`` (their leases were lost)."""
        kept = Pending()
        for key, part in self.parts.items():
            if key in keys:
                continue
            kept.parts[key] = part
            for f in dataclasses.fields(part):
                if f.name == "parts":
                    continue
                mine, theirs = getattr(kept, f.name), getattr(part, f.name)
                if isinstance(mine, list):
                    mine.extend(theirs)
                elif isinstance(mine, (dict, set)):
                    mine.update(theirs)
                else:
                    setattr(kept, f.name, mine + theirs)
        return kept

    def hold_rows(self, rows: pa.RecordBatch, nbytes: int) -> None:
        """``rows`` and their ``nbytes`` (measured once for the batch and its shard's part:
        pyarrow walks every buffer to tell)."""
        self.rows.append(rows)
        self.held_bytes += nbytes

    def hold_dead_letters(
        self, key: str, sequence_number: int, table: pa.Table, nbytes: int
    ) -> None:
        self.dead_letters.append((key, sequence_number, table))
        self.held_bytes += nbytes

    @property
    def nbytes(self) -> int:
        """The Arrow size of what the batch holds: its rows and its dead-letter rows. Kept as
        they are added: summing every batch's size on each read made the size check
        quadratic in the batch (a quarter of the consumer's CPU in a profile under load,
        pyarrow's nbytes walking every buffer of every batch held)."""
        return self.held_bytes

    def full(self, limits: ConsumerSettings) -> bool:
        """Whether the batch reached its size in events or in bytes (time is the caller's)."""
        return self.received >= limits.max_batch_events or self.nbytes >= limits.max_batch_bytes


@dataclass
class Prepared:
    """A record after the core's stateless steps; ``final`` when there is nothing left to do
    (an unreadable record or body, already a dead-letter row)."""

    final: Processed | None = None
    batch: data_processor_rs.TransformedBatch | None = None
    dead_letters: pa.Table | None = None
    part: JobProgress | None = None  # the job's part, its counts filled in by deduplication
    forwards: list[OutgoingRecord] = field(default_factory=list)


@dataclass
class Processed:
    rows: pa.RecordBatch | None
    dead_letters: pa.Table | None
    job: JobProgress | None
    received: int
    duplicates: int
    forwards: list[OutgoingRecord] = field(default_factory=list)
