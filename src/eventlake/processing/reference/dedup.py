"""Deduplicate by the contract's key: within a batch, and with a :class:`Deduplicator` across
batches over a bounded window of remembered keys (``dedup.rs``)."""

from __future__ import annotations

from collections import deque
from typing import Any

from eventlake.processing.reference.batch import TransformedBatch


def _keys(batch: TransformedBatch) -> list[tuple[Any, ...]]:
    # Python tuples compare nulls equal to each other and -0.0 equal to 0.0.
    names = batch.contract.dedup_key
    return [tuple(row[name] for name in names) for row in batch.rows]


def deduplicate(batch: TransformedBatch) -> TransformedBatch:
    """Keep the first row of each dedup key within the batch."""
    if not batch.contract.dedup_key:
        return TransformedBatch(
            batch.contract, list(batch.rows), list(batch.rejected), batch.num_duplicates
        )
    seen: set[tuple[Any, ...]] = set()
    kept: list[dict[str, Any]] = []
    for key, row in zip(_keys(batch), batch.rows, strict=True):
        if key not in seen:
            seen.add(key)
            kept.append(row)
    duplicates = batch.num_duplicates + len(batch.rows) - len(kept)
    return TransformedBatch(batch.contract, kept, list(batch.rejected), duplicates)


class Deduplicator:
    """Remembers up to ``capacity`` dedup keys across batches, forgetting the oldest first.

    The reference keeps the keys themselves (the Rust core keeps 128-bit hashes of them).
    """

    def __init__(self, capacity: int = 10_000_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._order: deque[tuple[Any, ...]] = deque()
        self._known: set[tuple[Any, ...]] = set()

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return len(self._known)

    def deduplicate(self, batch: TransformedBatch) -> TransformedBatch:
        """Drop rows whose key was seen earlier in this batch or remembered from an earlier
        batch, then remember this batch's new keys in row order (oldest evicted first)."""
        if not batch.contract.dedup_key:
            return deduplicate(batch)
        new_keys: list[tuple[Any, ...]] = []
        in_batch: set[tuple[Any, ...]] = set()
        kept: list[dict[str, Any]] = []
        for key, row in zip(_keys(batch), batch.rows, strict=True):
            if key in in_batch or key in self._known:
                continue
            in_batch.add(key)
            new_keys.append(key)
            kept.append(row)
        for key in new_keys:
            self._order.append(key)
            self._known.add(key)
            if len(self._order) > self._capacity:
                self._known.discard(self._order.popleft())
        duplicates = batch.num_duplicates + len(batch.rows) - len(kept)
        return TransformedBatch(batch.contract, kept, list(batch.rejected), duplicates)
