"""One shard's stream records through the Rust core: parsed, validated, transformed (on a
thread pool: the core releases the GIL), then deduplicated by the shard's window, in order.
What cannot be read becomes a dead-letter row, never an exception."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import data_processor_rs
import pyarrow as pa

from eventlake.config import Settings
from eventlake.consumer.batch import Prepared, Processed
from eventlake.consumer.dead_letters import raw_excerpt, whole_record_rejection
from eventlake.consumer.window import ShardWindow
from eventlake.lake.writer import dead_letter_rows
from eventlake.state import JobProgress
from eventlake.stream import envelope
from eventlake.stream.base import StreamRecord


class RecordProcessor:
    """The core's work on one dataset's records (``process``); ``close`` stops its pool."""

    def __init__(
        self, settings: Settings, dataset: str, contract: data_processor_rs.Contract
    ) -> None:
        self.settings = settings
        self.dataset = dataset
        self.contract = contract
        self._pool = ThreadPoolExecutor(
            max_workers=min(4, os.cpu_count() or 1), thread_name_prefix=f"core-{dataset}"
        )

    def process(self, records: Sequence[StreamRecord], window: ShardWindow) -> list[Processed]:
        """Run the core on one shard's stream records, in their order. The stateless steps run
        on a thread pool (the core releases the GIL); the shard's window, which depends on
        order, is applied one record after the other. Never raises for bad data: what cannot
        be read becomes a dead-letter row."""
        if len(records) > 1:
            prepared = list(self._pool.map(self._prepare, records))
        else:
            prepared = [self._prepare(record) for record in records]
        return [self._deduplicate(p, window) for p in prepared]

    def _prepare(self, record: StreamRecord) -> Prepared:
        """Parse, validate and transform one record: everything but the window."""
        try:
            env, body = envelope.decode(
                record.data, max_body_bytes=self.settings.max_decompressed_bytes
            )
            if env.dataset != self.dataset:
                raise envelope.EnvelopeError(
                    f"a record for {env.dataset!r} in the stream of {self.dataset!r}"
                )
        except envelope.EnvelopeError as error:
            raw = raw_excerpt(record.data)
            rows = whole_record_rejection("unreadable_record", str(error), raw)
            dead = self.dead_letter(rows, "", f"stream:{record.shard_id}", record.arrived_at)
            return Prepared(final=Processed(None, dead, None, 1, 0))
        received_at = datetime.fromtimestamp(env.received_at_us / 1_000_000, tz=UTC)
        try:
            parsed = data_processor_rs.parse_events(
                body,
                env.format,
                max_record_bytes=self.settings.max_record_bytes,
                max_decompressed_bytes=self.settings.max_decompressed_bytes,
            )
            batch = data_processor_rs.transform_batch(
                data_processor_rs.validate_schema(parsed, self.contract),
                job_id=env.job_id,
                source=env.source,
                ingested_at_us=env.received_at_us,
            )
        except data_processor_rs.ProcessorError as error:
            raw = raw_excerpt(body)
            reason = getattr(error, "reason", "unreadable_body")
            rows = whole_record_rejection(reason, str(error), raw)
            part = (record.shard_id, record.sequence_number, env.parts)
            job = JobProgress(env.job_id, 0, 1, 0, None, self.dataset, 1, env.source, *part)
            dead = self.dead_letter(rows, env.job_id, env.source, received_at)
            return Prepared(final=Processed(None, dead, job, 1, 0))
        dead = None
        if batch.num_rejected:
            dead = self.dead_letter(batch.rejected, env.job_id, env.source, received_at)
        part = (record.shard_id, record.sequence_number, env.parts)
        return Prepared(
            batch=batch, job_id=env.job_id, source=env.source, dead_letters=dead, part=part
        )

    def _deduplicate(self, prepared: Prepared, window: ShardWindow) -> Processed:
        if prepared.final is not None:
            return prepared.final
        assert prepared.batch is not None
        batch = window.deduplicate(prepared.batch)
        job = JobProgress(
            prepared.job_id,
            len(batch),
            batch.num_rejected,
            batch.num_duplicates,
            None,
            self.dataset,
            batch.num_received,
            prepared.source,
            *prepared.part,
        )
        return Processed(
            batch.to_arrow(), prepared.dead_letters, job, batch.num_received, batch.num_duplicates
        )

    def dead_letter(
        self, rejected: pa.RecordBatch, job_id: str, source: str, at: datetime
    ) -> pa.Table:
        return dead_letter_rows(rejected, dataset=self.dataset, job_id=job_id, source=source, at=at)

    def close(self) -> None:
        self._pool.shutdown()
