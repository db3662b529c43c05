"""Stream records as the API publishes them: each request's body cut into one part per shard
owning its events' keys (``eventlake.ingest.routing``, the rule the ingest library applies).

A benchmark that fills the stream directly must route too: a whole request keyed by its job id
lands on one shard, and a copy of an event in another request may land on another, where that
shard's deduplication window never sees the first copy (the API never publishes that way).
"""

from __future__ import annotations

import data_processor_rs

from eventlake.contracts import load_contract
from eventlake.ingest import routing
from eventlake.stream import envelope
from eventlake.stream.base import OutgoingRecord, Stream


class Router:
    """Cuts NDJSON request bodies of ``dataset`` for ``stream``'s shards."""

    def __init__(self, stream: Stream, dataset: str, received_at_us: int) -> None:
        self.dataset = dataset
        self.received_at_us = received_at_us
        self.contract = load_contract(dataset)
        self.shard_map = routing.ShardMap.of(stream.shards())

    def records(self, job: str, body: bytes) -> list[OutgoingRecord]:
        """The stream records of one request (one when it cannot be cut)."""
        env = envelope.Envelope(self.dataset, job, "bench", self.received_at_us, "ndjson")
        parts = None
        if self.shard_map is not None:
            batch, extents = data_processor_rs.validate_events(body, self.contract, "ndjson")
            parts = routing.split(body, batch, extents, self.shard_map)
        if parts is None:
            return [OutgoingRecord(job, envelope.encode(env, body))]
        return [OutgoingRecord(job, envelope.encode(env, p.body), p.hash_key) for p in parts]
