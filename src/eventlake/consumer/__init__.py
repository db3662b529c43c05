"""The consumer: read the stream, run the Rust core, commit to the lake exactly once.

``consumer`` is one dataset's loop (read, process, commit), ``service`` runs the datasets'
loops until stopped or drained, ``leases`` says which shards a consumer of a group reads,
``window`` keeps each shard's deduplication window across owners, ``batch`` is what a batch
holds until it commits, ``dead_letters`` builds the rows for whole records it cannot process,
``reports`` says what it did.
"""

from eventlake.consumer.consumer import DatasetConsumer, position_key
from eventlake.consumer.leases import LeaseCoordinator
from eventlake.consumer.reports import BatchReport, DrainReport
from eventlake.consumer.service import consume, drain

__all__ = [
    "BatchReport",
    "DatasetConsumer",
    "DrainReport",
    "LeaseCoordinator",
    "consume",
    "drain",
    "position_key",
]
