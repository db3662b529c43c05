"""The consumer: read the stream, run the Rust core, commit to the lake exactly once.

``consumer`` is the loop (read, process, commit), ``window`` keeps the deduplication window
between runs, ``membership`` says which shards a consumer of a group reads, ``dead_letters``
builds the rows for whole records it cannot process, ``reports`` says what it did.
"""

from eventlake.consumer.consumer import DatasetConsumer, consume, drain
from eventlake.consumer.membership import Membership, position_key
from eventlake.consumer.reports import BatchReport, DrainReport

__all__ = [
    "BatchReport",
    "DatasetConsumer",
    "DrainReport",
    "Membership",
    "consume",
    "drain",
    "position_key",
]
