"""What a consumer's batch holds (``Pending``): its size in bytes, which decides when the batch
is full, is the size of the rows and dead-letter rows it holds, also once a shard's lease is
lost and that shard's part leaves the batch."""

from __future__ import annotations

import pyarrow as pa

from eventlake.config import ConsumerSettings
from eventlake.consumer.batch import Pending


def rows(count: int) -> pa.RecordBatch:
    return pa.record_batch({"event_id": [f"e{i}" for i in range(count)], "n": list(range(count))})


def hold(pending: Pending, key: str, batch: pa.RecordBatch, dead: pa.Table | None = None) -> None:
    """As the consumer does: into the batch and into its shard's part."""
    for target in (pending, pending.parts.setdefault(key, Pending())):
        target.hold_rows(batch, batch.nbytes)
        if dead is not None:
            target.hold_dead_letters(key, 7, dead, dead.nbytes)


def test_the_size_is_what_the_batch_holds_and_leaves_with_a_lost_shard() -> None:
    first, second = rows(100), rows(300)
    dead = pa.table({"reason": ["bad_type"] * 10})
    pending = Pending()
    hold(pending, "shard-a", first, dead)
    hold(pending, "shard-b", second)

    assert pending.nbytes == first.nbytes + dead.nbytes + second.nbytes
    assert pending.nbytes == sum(b.nbytes for b in pending.rows) + dead.nbytes
    kept = pending.without({"shard-a"})  # shard-a's lease was lost
    assert kept.rows == [second]
    assert kept.nbytes == second.nbytes


def test_a_batch_is_full_at_its_size_in_bytes() -> None:
    limits = ConsumerSettings(max_batch_bytes=rows(100).nbytes * 3, max_batch_events=10**9)
    pending = Pending()
    for count in range(3):
        assert not pending.full(limits), count
        hold(pending, "shard-a", rows(100))
    assert pending.full(limits)
