"""One shard's stream records through the Rust core: parsed, validated, transformed (on a
thread pool: the core releases the GIL), then deduplicated by the shard's window, in order.
What cannot be read becomes a dead-letter row, never an exception."""

from __future__ import annotations

import dataclasses
import functools
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
from eventlake.state.progress import forwarded_part_key
from eventlake.stream import envelope
from eventlake.stream.base import OutgoingRecord, StreamRecord

MAX_HASH_KEY = 2**128 - 1  # the top of Kinesis's hash key space
MAX_PART_SEQUENCE = 64  # job_parts.sequence_number's length
_Validated = tuple[data_processor_rs.ValidatedBatch, data_processor_rs.RecordExtents]


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

    def process(
        self,
        records: Sequence[StreamRecord],
        window: ShardWindow,
        own_range: tuple[int, int] | None = None,
    ) -> list[Processed]:
        """Run the core on one shard's stream records, in their order. The stateless steps run
        on a thread pool (the core releases the GIL); the shard's window, which depends on
        order, is applied one record after the other. Never raises for bad data: what cannot
        be read becomes a dead-letter row. ``own_range``: the shard's hash key range, when its
        events' keys must be checked against it (``_keep_own``)."""
        prepare = functools.partial(self._prepare, own_range=own_range)
        if len(records) > 1:
            prepared = list(self._pool.map(prepare, records))
        else:
            prepared = [prepare(record) for record in records]
        return [self._deduplicate(p, window) for p in prepared]

    def _prepare(self, record: StreamRecord, own_range: tuple[int, int] | None) -> Prepared:
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
        forwards: list[OutgoingRecord] = []
        validated: data_processor_rs.ValidatedBatch | None
        try:
            if own_range is None:
                parsed = data_processor_rs.parse_events(
                    body,
                    env.format,
                    max_record_bytes=self.settings.max_record_bytes,
                    max_decompressed_bytes=self.settings.max_decompressed_bytes,
                )
                validated = data_processor_rs.validate_schema(parsed, self.contract)
            else:
                validated, forwards = self._keep_own(env, record, body, own_range)
            if validated is None:  # every event is another shard's: nothing lands here
                job = self._progress(env, record, forwards=forwards)
                return Prepared(final=Processed(None, None, job, 0, 0, forwards))
            batch = data_processor_rs.transform_batch(
                validated,
                job_id=env.job_id,
                source=env.source,
                ingested_at_us=env.received_at_us,
            )
        except data_processor_rs.ProcessorError as error:
            raw = raw_excerpt(body)
            reason = getattr(error, "reason", "unreadable_body")
            rows = whole_record_rejection(reason, str(error), raw)
            job = self._progress(env, record, received=1, dead_lettered=1)
            dead = self.dead_letter(rows, env.job_id, env.source, received_at)
            return Prepared(final=Processed(None, dead, job, 1, 0))
        dead = None
        if batch.num_rejected:
            dead = self.dead_letter(batch.rejected, env.job_id, env.source, received_at)
        return Prepared(
            batch=batch,
            dead_letters=dead,
            part=self._progress(env, record, forwards=forwards),
            forwards=forwards,
        )

    def _progress(
        self,
        env: envelope.Envelope,
        record: StreamRecord,
        *,
        received: int = 0,
        dead_lettered: int = 0,
        forwards: Sequence[OutgoingRecord] = (),
    ) -> JobProgress:
        """The job's part that ``record`` is, with the counts known before deduplication."""
        return JobProgress(
            env.job_id,
            landed=0,
            dead_lettered=dead_lettered,
            duplicates=0,
            snapshot_id=None,
            dataset=self.dataset,
            received=received,
            source=env.source,
            shard_id=record.shard_id,
            sequence_number=record.sequence_number,
            parts=env.parts,
            forwarded_as=env.forwarded_as,
            forwards=tuple(forwarded_keys(env, record, len(forwards))),
        )

    def _validate(self, body: bytes, body_format: envelope.BodyFormat) -> _Validated:
        return data_processor_rs.validate_events(
            body,
            self.contract,
            body_format,
            max_record_bytes=self.settings.max_record_bytes,
            max_decompressed_bytes=self.settings.max_decompressed_bytes,
        )

    def _keep_own(
        self, env: envelope.Envelope, record: StreamRecord, body: bytes, own_range: tuple[int, int]
    ) -> tuple[data_processor_rs.ValidatedBatch | None, list[OutgoingRecord]]:
        """The record's events whose keys this shard owns (validated: None when there are
        none), and the others as records to forward to their owners.

        Right after a split the API may cut a request by a stale shard map (the parent's
        range); Kinesis puts each part where its explicit hash key (its first event's) goes,
        so some of its events can reach the sibling of the shard that owns their keys, whose
        window would never see them. They are cut off here by the Rust core's routing (the
        rule the API uses) and published again with their explicit hash key, before the
        commit that moves past this record. A crash between that publish and the commit
        publishes them again: the owner's window drops the second copy, so every event still
        lands once, and the job counts it once (each forwarded part has one key, however
        often it is published: ``forwarded_keys``)."""
        validated, extents = self._validate(body, env.format)
        first, last = own_range
        # The shards around this one's range: index 0 below it (when it does not start at
        # 0), then this one, then above it (when it does not end at the top).
        starts = [0, first] if first > 0 else [0]
        own = len(starts) - 1
        if last < MAX_HASH_KEY:
            starts.append(last + 1)
        parts = data_processor_rs.route(body, validated, extents, starts)
        if parts is None or all(index == own for index, *_ in parts):
            return validated, []
        foreign = [(key, part) for index, key, part, _ in parts if index != own]
        forwards = [
            OutgoingRecord(
                env.job_id,
                envelope.encode(
                    dataclasses.replace(env, encoding="identity", forwarded_as=forwarded_as),
                    part or body,
                ),
                explicit_hash_key=key,
            )
            for (key, part), forwarded_as in zip(
                foreign, forwarded_keys(env, record, len(foreign)), strict=True
            )
        ]
        own_parts = [part or body for index, _, part, _ in parts if index == own]
        mine = self._validate(own_parts[0], env.format)[0] if own_parts else None
        return mine, forwards

    def _deduplicate(self, prepared: Prepared, window: ShardWindow) -> Processed:
        if prepared.final is not None:
            return prepared.final
        assert prepared.batch is not None  # noqa: S101 — narrows the type for mypy; holds by construction
        assert prepared.part is not None  # noqa: S101 — narrows the type for mypy; holds by construction
        batch = window.deduplicate(prepared.batch)
        job = dataclasses.replace(
            prepared.part,
            landed=len(batch),
            dead_lettered=batch.num_rejected,
            duplicates=batch.num_duplicates,
            received=batch.num_received,
        )
        return Processed(
            batch.to_arrow(),
            prepared.dead_letters,
            job,
            batch.num_received,
            batch.num_duplicates,
            prepared.forwards,
        )

    def dead_letter(
        self, rejected: pa.RecordBatch, job_id: str, source: str, at: datetime
    ) -> pa.Table:
        return dead_letter_rows(rejected, dataset=self.dataset, job_id=job_id, source=source, at=at)

    def close(self) -> None:
        self._pool.shutdown()


def forwarded_keys(
    env: envelope.Envelope, record: StreamRecord, count: int
) -> list[tuple[str, str]]:
    """The job-part keys of the ``count`` parts forwarded from ``record``: derived from the
    record's own part key, so that a record forwarded again after a crash (or a forwarded
    record forwarded again after a second split) gives its parts the same keys each time.
    A key too long for the state database (a part forwarded over and over) starts again from
    the record's own position, which is as stable."""
    origin = env.forwarded_as or (record.shard_id, str(record.sequence_number))
    keys = [forwarded_part_key(origin, index) for index in range(1, count + 1)]
    if any(len(sequence) > MAX_PART_SEQUENCE for _, sequence in keys):
        origin = (record.shard_id, str(record.sequence_number))
        keys = [forwarded_part_key(origin, index) for index in range(1, count + 1)]
    return keys
