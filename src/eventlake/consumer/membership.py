"""Which shards a consumer reads when several split a dataset's stream (``--member I/N``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def position_key(stream_name: str, shard_id: str) -> str:
    """The key a shard's position has in a table's watermark (``eventlake.lake.watermark``)."""
    return f"stream:{stream_name}/{shard_id}"


@dataclass(frozen=True)
class Membership:
    """This consumer's share of the shards: in the sorted list of every shard of the stream,
    those at positions ``index``, ``index + count``, … Every member sees the same list, so the
    shares never overlap and are as even as they can be; Kinesis numbers new shards upwards, so
    a reshard appends to the list and leaves existing shares in place. Every consumer of a group
    must be started with the same ``count``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"member {self.index} of {self.count}: need 0 <= index < count")

    def owns(self, shard_id: str, all_shards: Iterable[str]) -> bool:
        if self.count == 1:
            return True
        ordered = sorted(all_shards)
        return shard_id in ordered and ordered.index(shard_id) % self.count == self.index

    @property
    def label(self) -> str:
        return f"{self.index}-of-{self.count}"


# The default: a consumer alone, reading every shard.
ALONE = Membership()
