"""The deduplication windows: one per shard, saved in the state database at commit, so that
whoever reads the shard next (after a restart, a takeover or a reshard) starts from it.

A saved window is the core's window bytes with the table's UUID, the position (sequence number)
of the shard it has seen, and a CRC-32 of the bytes. It is trusted only when it provably
belongs to this table's history: the same table (not a rebuilt lake, another namespace or a
recreated table), the same capacity as configured, a checksum that matches, and a position no
further than the table's watermark (not a rolled-back table). Anything else is rebuilt from the
stream: a wrong window would drop real events as duplicates.

A child shard after a reshard starts with its parents' windows (``ShardWindow.inherited``):
copies of an event that reached a parent before the reshard and the child after it are still
duplicates. Events are routed to the shard that owns their key's hash (the API), so a shard's
window sees every copy of an event: a window per shard is a window for the whole stream.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field

import data_processor_rs

from eventlake.state import StateStore
from eventlake.state.leases import SavedWindow

log = logging.getLogger(__name__)


@dataclass
class ShardWindow:
    """One shard's window (``own``, the one saved) and its ancestors' (read first)."""

    own: data_processor_rs.Deduplicator
    inherited: list[data_processor_rs.Deduplicator] = field(default_factory=list)

    def deduplicate(
        self, batch: data_processor_rs.TransformedBatch
    ) -> data_processor_rs.TransformedBatch:
        # The core counts duplicates cumulatively, so the last step's count is the total. An
        # inherited window also remembers the child's keys: harmless, it is never saved again.
        for window in self.inherited:
            batch = window.deduplicate(batch)
        return self.own.deduplicate(batch)


@dataclass(frozen=True)
class WindowStore:
    """Loads and saves a group's shard windows in the state database."""

    state: StateStore
    group: str
    stream: str
    table_uuid: str
    capacity: int

    def load(
        self, shard_id: str, committed: int | None
    ) -> tuple[data_processor_rs.Deduplicator, int | None]:
        """The saved window of ``shard_id`` and the position it has seen; an empty window and
        None when there is none to trust (it is then rebuilt from the stream)."""
        saved = self.state.load_window(self.group, self.stream, shard_id)
        if saved is None:
            return data_processor_rs.Deduplicator(self.capacity), None
        problem = None
        window = None
        if saved.table_uuid != self.table_uuid:
            problem = "it was saved for another table"
        elif committed is None or saved.position > committed:
            problem = f"it has seen up to {saved.position}, beyond the table's watermark"
        elif zlib.crc32(saved.data) != saved.checksum:
            problem = "checksum mismatch"
        else:
            try:
                window = data_processor_rs.Deduplicator.from_bytes(saved.data)
            except ValueError as error:
                problem = f"it is unreadable ({error})"
            else:
                if window.capacity != self.capacity:
                    problem = f"its capacity {window.capacity:,} is not the configured one"
        if problem is not None or window is None:
            log.warning(
                "rebuilding the window of %s/%s from the stream: %s", self.stream, shard_id, problem
            )
            return data_processor_rs.Deduplicator(self.capacity), None
        return window, saved.position

    def save(self, shard_id: str, window: data_processor_rs.Deduplicator, position: int) -> None:
        """Save a window that has seen exactly the shard's records up to ``position``, all
        committed (the consumer calls this right after a commit)."""
        data = window.to_bytes()
        self.state.save_window(
            self.group,
            self.stream,
            shard_id,
            SavedWindow(self.table_uuid, position, zlib.crc32(data), data),
        )
