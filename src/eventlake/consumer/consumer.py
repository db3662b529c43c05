"""Stream → Rust core → Iceberg, with every accepted event landing exactly once.

Reading is at-least-once; committing is idempotent. Each shard's position key
(``stream:<stream>/<shard>``) and the range of sequence numbers a batch covers go into the
lake commit itself (see ``eventlake.lake.watermark``), so a consumer that crashes anywhere
restarts from the table's watermark and a replayed record is never committed twice.

Three pieces of state have to agree after a crash, and the order of writes makes them:

1. dead-letter rows are committed first, under the same positions, with the dead-letter
   table's own watermark; on a replay, rejections of records at or below it are dropped;
2. then the rows, whose watermark is where reading resumes;
3. then, lazily, the deduplication window, saved with the positions it has seen. On start the
   window is loaded and the records between its positions and the table's watermark (committed,
   but not in the saved window) are read again to re-learn their keys, without committing. A
   missing window file is rebuilt the same way from the oldest record the stream retains.

The window never holds a key from a record that is not committed, because a failed commit
throws the in-memory window away and starts over from the lake (``poll_batch``).

Several consumers split a dataset's shards by a stable hash (``Membership``); a child shard
after a reshard is read only once its parents are read to their end, by whichever consumer.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import data_processor_rs
import pyarrow as pa
from sqlalchemy.exc import SQLAlchemyError

from eventlake.config import ConsumerSettings, Settings
from eventlake.consumer.dead_letters import raw_excerpt, whole_record_rejection
from eventlake.consumer.membership import ALONE, Membership, position_key
from eventlake.consumer.reports import BatchReport
from eventlake.consumer.window import WindowFile, window_path
from eventlake.contracts import load_contract
from eventlake.lake import watermark
from eventlake.lake.writer import (
    DEAD_LETTER_TABLE,
    DUPLICATES,
    RECEIVED,
    REJECTED,
    Lake,
    TableCommit,
    dead_letter_rows,
)
from eventlake.state import CommitRecord, JobProgress, ShardProgress, StateStore
from eventlake.stream import envelope, open_stream
from eventlake.stream.base import ShardInfo, ShardReader, Stream, StreamRecord

log = logging.getLogger(__name__)

# How often the window is written to disk; the replay on start covers the rest.
SAVE_WINDOW_EVERY_SECONDS = 30.0
SHARD_REFRESH_SECONDS = 10.0


@dataclass
class _Pending:
    """What a batch has read and processed but not committed yet."""

    rows: list[pa.RecordBatch] = field(default_factory=list)
    dead_letters: list[tuple[str, int, pa.Table]] = field(default_factory=list)
    first: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    jobs: list[JobProgress] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)
    records: int = 0
    received: int = 0
    landed: int = 0
    dead_lettered: int = 0
    duplicates: int = 0

    def saw(self, key: str, sequence_number: int) -> None:
        self.first.setdefault(key, sequence_number)
        self.last[key] = sequence_number
        self.records += 1

    @property
    def nbytes(self) -> int:
        """The Arrow size of what the batch holds: its rows and its dead-letter rows."""
        rows = sum(batch.nbytes for batch in self.rows)
        return int(rows + sum(table.nbytes for _, _, table in self.dead_letters))

    def full(self, limits: ConsumerSettings) -> bool:
        """Whether the batch reached its size in events or in bytes (time is the caller's)."""
        return self.received >= limits.max_batch_events or self.nbytes >= limits.max_batch_bytes


@dataclass
class _Prepared:
    """A record after the core's stateless steps; ``final`` when there is nothing left to do
    (an unreadable record or body, already a dead-letter row)."""

    final: _Processed | None = None
    batch: data_processor_rs.TransformedBatch | None = None
    job_id: str = ""
    source: str = ""
    dead_letters: pa.Table | None = None


@dataclass
class _Processed:
    rows: pa.RecordBatch | None
    dead_letters: pa.Table | None
    job: JobProgress | None
    received: int
    duplicates: int


class DatasetConsumer:
    """Consumes one dataset's stream (its shards owned by ``membership``) into its table."""

    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        state: StateStore,
        dataset: str,
        *,
        membership: Membership = ALONE,
        stream: Stream | None = None,
    ) -> None:
        self.settings = settings
        self.lake = lake
        self.state = state
        self.dataset = dataset
        self.membership = membership
        self.contract = load_contract(dataset)
        self.schema = self.contract.arrow_schema()
        self.stream = stream or open_stream(settings, dataset)
        self.consumer_name = f"{os.uname().nodename}:{os.getpid()}:{membership.label}"
        self._window_file = WindowFile(window_path(settings, self.stream.name, membership))
        self._readers: dict[str, ShardReader] = {}
        self._shards: dict[str, ShardInfo] = {}
        self._finished: set[str] = set()
        self._behind: dict[str, int | None] = {}
        self._rows_watermark: dict[str, int] = {}
        self._dead_letter_watermark: dict[str, int] = {}
        self._window = data_processor_rs.Deduplicator(settings.dedup_window)
        self._window_saved_at = 0.0
        self._shards_listed_at = 0.0
        self._table_uuid = ""
        self._read_to: dict[str, int] = {}  # the last sequence number read, per shard
        self._pool = ThreadPoolExecutor(
            max_workers=min(4, os.cpu_count() or 1), thread_name_prefix=f"core-{dataset}"
        )
        # False until open() has loaded and caught up the window and placed the readers at the
        # lake's watermark, and again after any failure in a batch.
        self._ready = False

    # --- start and restart ------------------------------------------------------------------

    def open(self) -> None:
        """Create what is missing, load the window, catch it up, open a reader per shard."""
        self._invalidate()
        self.stream.ensure()
        self.lake.ensure_dataset(self.contract)
        self.lake.ensure_dead_letter()
        self._readers.clear()
        self._finished.clear()
        self._table_uuid = str(self.lake.table(self.dataset).metadata.table_uuid)
        self._rows_watermark = self.lake.watermark(self.dataset)
        self._dead_letter_watermark = self.lake.watermark(DEAD_LETTER_TABLE)
        self._refresh_shards(force=True)
        saved = self._load_window()
        for shard_id in self._shards:
            if self._owns(shard_id):
                self._relearn(shard_id, saved)
        self._ready = True

    def _invalidate(self) -> None:
        """Forget everything not committed: the window (it may hold keys of records that did
        not land; saving it would turn them into false duplicates after a restart) and the
        readers' positions (past records that did not land). The next poll starts again from
        the lake."""
        self._ready = False
        self._window = data_processor_rs.Deduplicator(self.settings.dedup_window)
        self._readers.clear()
        self._read_to.clear()

    def _key(self, shard_id: str) -> str:
        return position_key(self.stream.name, shard_id)

    def _load_window(self) -> dict[str, int] | None:
        """Adopt the saved window when it can be trusted (see ``WindowFile.load``); the
        positions it covers, or None when it is rebuilt from the stream."""
        loaded = self._window_file.load(
            table_uuid=self._table_uuid,
            capacity=self.settings.dedup_window,
            committed=self._rows_watermark,
        )
        if loaded is None:
            return None
        self._window, positions = loaded
        return positions

    def _save_window(self) -> None:
        """Save the window with the positions it has seen. Only called right after a commit,
        when both agree."""
        positions = {
            key: value
            for key, value in self._rows_watermark.items()
            if key.startswith(position_key(self.stream.name, ""))
        }
        self._window_file.save(self._window, table_uuid=self._table_uuid, positions=positions)
        self._window_saved_at = time.monotonic()

    def _relearn(self, shard_id: str, saved: dict[str, int] | None) -> None:
        """Re-read the committed records the saved window has not seen, for their keys (and
        for their jobs' status, in case the crash came before it was recorded)."""
        key = self._key(shard_id)
        committed = self._rows_watermark.get(key)
        seen = None if saved is None else saved.get(key)
        if committed is not None and (seen is None or seen < committed):
            reader = self.stream.reader(shard_id, seen)
            relearned = empty_pages = 0
            jobs: list[JobProgress] = []
            done = False
            while not done:
                batch = reader.read(self.settings.consumer.read_limit)
                records = [r for r in batch.records if r.sequence_number <= committed]
                done = len(records) < len(batch.records)
                for processed in self._process(records):
                    if processed.job is not None:
                        jobs.append(processed.job)
                relearned += len(records)
                # GetRecords may answer an empty page before the records (Kinesis says so):
                # only the end of a closed shard, or being caught up, ends the replay.
                empty_pages = 0 if batch.records else empty_pages + 1
                if batch.at_end or (not batch.records and (batch.behind == 0 or empty_pages > 20)):
                    done = True
            self.state.record_processed(jobs)
            if relearned:
                log.info("%s: re-learned the keys of %d committed records", key, relearned)
        self._readers[shard_id] = self.stream.reader(shard_id, committed)
        self._read_to[shard_id] = committed or 0

    # --- shards -----------------------------------------------------------------------------

    def _refresh_shards(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._shards_listed_at < SHARD_REFRESH_SECONDS:
            return
        self._shards = {s.shard_id: s for s in self.stream.shards()}
        self._shards_listed_at = now

    def _parent_done(self, parent_id: str) -> bool:
        if parent_id in self._finished or parent_id not in self._shards:
            return True  # read to its end, or expired from the stream
        if self._owns(parent_id):
            return False  # this consumer reads it; it is done when it says so
        # Another consumer reads it: done when nothing is left after the table's watermark.
        after = self.lake.watermark(self.dataset).get(self._key(parent_id))
        probe = self.stream.reader(parent_id, after).read(1)
        if not probe.records and probe.at_end:
            self._finished.add(parent_id)
            return True
        return False

    def _owns(self, shard_id: str) -> bool:
        return self.membership.owns(shard_id, self._shards)

    def _readable(self) -> list[str]:
        readable = []
        for shard_id, info in self._shards.items():
            if shard_id in self._finished or not self._owns(shard_id):
                continue
            if all(self._parent_done(p) for p in info.parent_shard_ids):
                if shard_id not in self._readers:
                    self._readers[shard_id] = self.stream.reader(
                        shard_id, self._rows_watermark.get(self._key(shard_id))
                    )
                readable.append(shard_id)
        return readable

    # --- one record -------------------------------------------------------------------------

    def _process(self, records: Sequence[StreamRecord]) -> list[_Processed]:
        """Run the core on stream records (one per accepted request), in their order. The
        stateless steps run on a thread pool (the core releases the GIL); the window, which
        depends on order, is applied one record after the other. Never raises for bad data:
        what cannot be read becomes a dead-letter row."""
        if len(records) > 1:
            prepared = list(self._pool.map(self._prepare, records))
        else:
            prepared = [self._prepare(record) for record in records]
        return [self._deduplicate(p) for p in prepared]

    def _prepare(self, record: StreamRecord) -> _Prepared:
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
            dead = self._dead_letter(rows, "", f"stream:{record.shard_id}", record.arrived_at)
            return _Prepared(final=_Processed(None, dead, None, 1, 0))
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
            job = JobProgress(env.job_id, 0, 1, 0, None, self.dataset, 1, env.source)
            dead = self._dead_letter(rows, env.job_id, env.source, received_at)
            return _Prepared(final=_Processed(None, dead, job, 1, 0))
        dead = None
        if batch.num_rejected:
            dead = self._dead_letter(batch.rejected, env.job_id, env.source, received_at)
        return _Prepared(batch=batch, job_id=env.job_id, source=env.source, dead_letters=dead)

    def _deduplicate(self, prepared: _Prepared) -> _Processed:
        if prepared.final is not None:
            return prepared.final
        assert prepared.batch is not None
        batch = self._window.deduplicate(prepared.batch)
        job = JobProgress(
            prepared.job_id,
            len(batch),
            batch.num_rejected,
            batch.num_duplicates,
            None,
            self.dataset,
            batch.num_received,
            prepared.source,
        )
        return _Processed(
            batch.to_arrow(), prepared.dead_letters, job, batch.num_received, batch.num_duplicates
        )

    def _dead_letter(
        self, rejected: pa.RecordBatch, job_id: str, source: str, at: datetime
    ) -> pa.Table:
        return dead_letter_rows(rejected, dataset=self.dataset, job_id=job_id, source=source, at=at)

    # --- one batch --------------------------------------------------------------------------

    def poll_batch(
        self, *, stop: threading.Event | None = None, wait: bool = True
    ) -> BatchReport | None:
        """Read what is there (up to the batch limits), process it and commit it. None when
        every shard was idle. ``wait``: once something was read, keep gathering until the
        batch is full (``max_batch_events`` or ``max_batch_bytes``) or ``max_batch_seconds``
        passed (fewer, larger snapshots).

        Any failure (the stream, the core, the lake, the state database) forgets what the
        batch read and processed; the next call starts again from the lake."""
        if not self._ready:
            self.open()
        try:
            return self._poll_batch(stop, wait)
        except BaseException as error:
            log.warning("%s: batch failed (%s); starting again from the lake", self.dataset, error)
            self._invalidate()
            raise

    def _poll_batch(self, stop: threading.Event | None, wait: bool) -> BatchReport | None:
        started = time.monotonic()
        limits = self.settings.consumer
        self._refresh_shards()
        pending = _Pending()
        while True:
            got = False
            for shard_id in self._readable():
                batch = self._readers[shard_id].read(limits.read_limit)
                self._behind[shard_id] = batch.behind
                key = self._key(shard_id)
                got = got or bool(batch.records)
                for record, processed in zip(
                    batch.records, self._process(batch.records), strict=True
                ):
                    self._note_expired(pending, key, record)
                    self._add(pending, key, record, processed)
                if batch.at_end:
                    pending.finished.add(shard_id)
                if pending.full(limits):
                    break
            if not pending.records:
                # Nothing to commit; shards read to their end with nothing left are done.
                self._finished |= pending.finished
                return None
            stopping = stop is not None and stop.is_set()
            late = time.monotonic() - started >= limits.max_batch_seconds
            # Whichever comes first: events, bytes or time (as Firehose and Flink's Iceberg
            # sink close a file). The size is checked after each shard's read, so a batch may
            # pass it by one read of one shard.
            if pending.full(limits) or late or stopping:
                break
            if not got:
                if not wait:
                    break
                time.sleep(limits.poll_seconds)
        return self._commit(pending, started)

    def _note_expired(self, pending: _Pending, key: str, record: StreamRecord) -> None:
        """Records the stream deleted (retention) before this consumer read them leave a gap
        in a gap-free shard: said with a dead-letter row, never skipped silently. (Kinesis
        numbers have gaps by design; there the trim horizon and its metrics tell.)"""
        before = self._read_to.get(record.shard_id, 0)
        self._read_to[record.shard_id] = record.sequence_number
        if not getattr(self.stream, "gap_free", False) or record.sequence_number <= before + 1:
            return
        first, last = before + 1, record.sequence_number - 1
        message = (
            f"records {first}..{last} of {record.shard_id} expired from the stream (its "
            "retention) before they were consumed; their events are lost"
        )
        log.error("%s: %s", self.dataset, message)
        rows = whole_record_rejection("expired_in_stream", message, "")
        dead = self._dead_letter(rows, "", f"stream:{record.shard_id}", record.arrived_at)
        pending.dead_letters.append((key, record.sequence_number, dead))
        pending.dead_lettered += 1

    def _add(
        self, pending: _Pending, key: str, record: StreamRecord, processed: _Processed
    ) -> None:
        pending.saw(key, record.sequence_number)
        pending.received += processed.received
        pending.duplicates += processed.duplicates
        if processed.rows is not None and processed.rows.num_rows:
            pending.rows.append(processed.rows)
            pending.landed += processed.rows.num_rows
        if processed.dead_letters is not None:
            pending.dead_letters.append((key, record.sequence_number, processed.dead_letters))
            pending.dead_lettered += processed.dead_letters.num_rows
        if processed.job is not None:
            pending.jobs.append(processed.job)

    def _commit(self, pending: _Pending, started: float) -> BatchReport:
        ranges = {
            key: watermark.SequenceRange(pending.first[key], last)
            for key, last in pending.last.items()
        }
        # On failure (another consumer took these positions, the lake kept refusing, the
        # outcome is unknown), poll_batch starts over from what the lake holds.
        self._commit_dead_letters(pending)
        commit = self.lake.commit(
            self.dataset,
            pa.Table.from_batches(pending.rows, schema=self.schema),
            ranges=ranges,
            summary={
                RECEIVED: str(pending.received),
                REJECTED: str(pending.dead_lettered),
                DUPLICATES: str(pending.duplicates),
            },
        )
        self._rows_watermark = watermark.advanced(self._rows_watermark, ranges)
        self._finished |= pending.finished
        self._record(pending, commit)
        if time.monotonic() - self._window_saved_at >= SAVE_WINDOW_EVERY_SECONDS:
            self._save_window()
        landed = 0 if commit.skipped else pending.landed
        return BatchReport(
            self.dataset,
            pending.records,
            pending.received,
            landed,
            pending.dead_lettered,
            pending.duplicates,
            commit.snapshot_id,
            commit.skipped,
            time.monotonic() - started,
        )

    def _commit_dead_letters(self, pending: _Pending) -> None:
        """Rejections of records the dead-letter table does not hold yet (after a crash
        between the two commits it holds some), under their own ranges."""
        committed = self._dead_letter_watermark
        tables = [t for key, seq, t in pending.dead_letters if seq > committed.get(key, 0)]
        if not tables:
            return
        ranges = {}
        for key, last in pending.last.items():
            already = committed.get(key)
            if already is None or last > already:
                first = (
                    pending.first[key] if already is None else max(pending.first[key], already + 1)
                )
                ranges[key] = watermark.SequenceRange(first, last)
        self.lake.commit(DEAD_LETTER_TABLE, pa.concat_tables(tables), ranges=ranges)
        self._dead_letter_watermark = watermark.advanced(committed, ranges)

    def _record(self, pending: _Pending, commit: TableCommit) -> None:
        """Job status, commit log and shard progress: informational, after the lake. A
        failure here does not undo the commit, so it is logged, not raised (job status is
        repaired when a later start re-learns the records)."""
        try:
            self._record_in_state(pending, commit)
        except SQLAlchemyError:
            log.exception("%s: committed, but the job database was not updated", self.dataset)

    def _record_in_state(self, pending: _Pending, commit: TableCommit) -> None:
        snapshot = commit.snapshot_id
        self.state.record_processed(
            [dataclasses.replace(job, snapshot_id=snapshot) for job in pending.jobs]
        )
        if not commit.skipped:
            self.state.record_commit(
                CommitRecord(
                    self.dataset,
                    snapshot,
                    pending.landed,
                    pending.dead_lettered,
                    pending.duplicates,
                )
            )
        self.record_progress()

    def record_progress(self) -> None:
        self.state.record_shards(
            ShardProgress(
                self.stream.name,
                shard_id,
                self.consumer_name,
                self._rows_watermark.get(self._key(shard_id)),
                self._behind.get(shard_id),
            )
            for shard_id in self._readers
        )

    def close(self) -> None:
        """Save the window, when it agrees with the lake (the last batch was committed)."""
        if self._ready:
            self._save_window()
        self._pool.shutdown()
