"""The consumer: read the stream, run the Rust core, commit to the lake exactly once."""

from eventlake.consumer.consumer import (
    BatchReport,
    DatasetConsumer,
    DrainReport,
    Membership,
    consume,
    drain,
    position_key,
)

__all__ = [
    "BatchReport",
    "DatasetConsumer",
    "DrainReport",
    "Membership",
    "consume",
    "drain",
    "position_key",
]
