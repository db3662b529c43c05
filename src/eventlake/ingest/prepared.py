"""A request ready to publish (``PreparedBatch``: validated, cut into parts, encoded) and its
answer (``IngestAnswer``): what the ingestor hands the API's writer and gets back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventlake.ingest import routing
from eventlake.state import PublishedJob, PublishedPart
from eventlake.stream import OutgoingRecord, PublishedRecord, Stream


@dataclass(frozen=True)
class IngestAnswer:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False  # the stored answer of an earlier request with the same key


@dataclass
class PreparedBatch:
    """A request validated, cut into parts and encoded as stream records: what publishing it
    takes (``Ingestor.publish_records``, then ``record_published``). ``answer`` is the body
    of its 202."""

    answer: dict[str, Any]
    source: str
    stream: Stream
    parts: list[routing.Part]
    records: list[OutgoingRecord]

    def published_job(self, landed: list[PublishedRecord]) -> PublishedJob:
        answer, first = self.answer, landed[0]
        return PublishedJob(
            answer["job_id"],
            name=answer["dataset"],
            source=self.source,
            received=answer["received"],
            accepted=answer["accepted"],
            rejected=answer["rejected"],
            stream=self.stream.name,
            shard_id=first.shard_id,
            sequence_number=first.sequence_number,
            parts=tuple(
                PublishedPart(where.shard_id, where.sequence_number, part.records)
                for part, where in zip(self.parts, landed, strict=True)
            ),
        )
