"""Stream → Rust core → Iceberg, with every accepted event landing exactly once.

Reading is at-least-once; committing is idempotent. Each shard's position key
(``stream:<stream>/<shard>``) and the range of sequence numbers a batch covers go into the
lake commit itself (see ``eventlake.lake.watermark``), so a consumer that crashes anywhere
restarts from the table's watermark and a replayed record is never committed twice.

Three pieces of state have to agree after a crash, and the order of writes makes them:

1. dead-letter rows are committed first, under the same positions, with the dead-letter
   table's own watermark; on a replay, rejections of records at or below it are dropped;
2. then the rows, whose watermark is where reading resumes;
3. then, lazily, each shard's deduplication window, saved in the state database with the
   position it has seen (``window``). Whoever reads the shard next loads it, and re-reads the
   records between its position and the table's watermark (committed, but not in the saved
   window) to re-learn their keys, without committing. A missing window is rebuilt the same way
   from the oldest record the stream retains.

The window never holds a key from a record that is not committed, because a failed commit
throws the in-memory window away and starts over from the lake (``poll_batch``).

Any number of consumers share a dataset's shards through leases in the state database
(``leases``, renewed by a heartbeat thread whatever the loop does): a consumer reads only the
shards it holds, drops a shard (its reader, window and pending records) when its lease is
lost, and takes over a shard with its saved window. A child shard after a reshard is taken only
once its parents are read to their end, and starts from their windows. A consumer that lost a
lease and commits anyway (paused between its check and its commit) commits nothing: the
lake's watermark holds the new owner's positions.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

import data_processor_rs
import pyarrow as pa
from sqlalchemy.exc import SQLAlchemyError

from eventlake.config import Settings
from eventlake.consumer.batch import Pending, Processed
from eventlake.consumer.dead_letters import whole_record_rejection
from eventlake.consumer.leases import LeaseCoordinator
from eventlake.consumer.records import RecordProcessor
from eventlake.consumer.reports import BatchReport
from eventlake.consumer.window import ShardWindow, WindowStore
from eventlake.contracts import load_contract
from eventlake.lake import watermark
from eventlake.lake.writer import (
    DEAD_LETTER_TABLE,
    DUPLICATES,
    RECEIVED,
    REJECTED,
    Lake,
    TableCommit,
)
from eventlake.state import CommitRecord, JobProgress, ShardProgress, StateStore
from eventlake.stream import open_stream
from eventlake.stream.base import ShardInfo, ShardReader, Stream, StreamRecord

log = logging.getLogger(__name__)

# How often a shard's window is saved (after a commit, and always when the shard is finished
# or given back); whoever reads the shard next re-learns the records committed since.
SAVE_WINDOW_EVERY_SECONDS = 30.0


def position_key(stream_name: str, shard_id: str) -> str:
    """The key a shard's position has in a table's watermark (``eventlake.lake.watermark``)."""
    return f"stream:{stream_name}/{shard_id}"


class DatasetConsumer:
    """Consumes the shards of one dataset's stream it holds a lease on into its table."""

    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        state: StateStore,
        dataset: str,
        *,
        stream: Stream | None = None,
        worker_id: str | None = None,
        drain: bool = False,
    ) -> None:
        self.settings = settings
        self.lake = lake
        self.state = state
        self.dataset = dataset
        self.contract = load_contract(dataset)
        self.schema = self.contract.arrow_schema()
        self.stream = stream or open_stream(settings, dataset)
        # The consumer group: the lake table, so that two lakes fed by one stream do not share.
        self.group = f"{settings.lake.namespace}.{dataset}"
        self._leases = LeaseCoordinator(
            state,
            group=self.group,
            stream=self.stream.name,
            settings=settings.consumer,
            worker_id=worker_id,
            greedy=drain,
        )
        self.consumer_name = self._leases.worker_id
        self._windows: dict[str, ShardWindow] = {}
        self._window_store: WindowStore | None = None
        self._window_saved: dict[str, tuple[float, int]] = {}  # when, and at which position
        self._readers: dict[str, ShardReader] = {}
        self._shards: dict[str, ShardInfo] = {}
        self._finished: set[str] = set()
        self._behind: dict[str, int | None] = {}
        self._rows_watermark: dict[str, int] = {}
        self._dead_letter_watermark: dict[str, int] = {}
        self._table_uuid = ""
        self._read_to: dict[str, int] = {}  # the last sequence number read, per shard
        self._records = RecordProcessor(settings, dataset, self.contract)
        # False until open() has taken its leases, loaded and caught up their windows and placed
        # the readers at the lake's watermark, and again after any failure in a batch.
        self._ready = False

    # --- start and restart ------------------------------------------------------------------

    def open(self) -> None:
        """Create what is missing, take leases, and for each shard held load its window, catch
        it up and open a reader at the lake's watermark."""
        self._invalidate()
        self.stream.ensure()
        self.lake.ensure_dataset(self.contract)
        self.lake.ensure_dead_letter()
        self._finished.clear()
        self._table_uuid = str(self.lake.table(self.dataset).metadata.table_uuid)
        self._window_store = WindowStore(
            self.state, self.group, self.stream.name, self._table_uuid, self.settings.dedup_window
        )
        self._rows_watermark = self.lake.watermark(self.dataset)
        self._dead_letter_watermark = self.lake.watermark(DEAD_LETTER_TABLE)
        # From now on the leases are renewed every renew interval, whatever this loop does
        # (a long batch, a long replay of a shard taken over).
        self._leases.start_heartbeat()
        self._refresh_shards(force=True)
        self._ready = True

    def _invalidate(self) -> None:
        """Forget everything not committed: the windows (they may hold keys of records that
        did not land; saving them would turn them into false duplicates) and the readers'
        positions (past records that did not land). The leases are kept: the next poll starts
        their shards again from the lake."""
        self._ready = False
        self._windows.clear()
        self._readers.clear()
        self._read_to.clear()

    def _key(self, shard_id: str) -> str:
        return position_key(self.stream.name, shard_id)

    def _adopt(self, shard_id: str) -> None:
        """Start reading a shard just taken (or held across a restart): its window, caught
        up, with its ancestors' (a reshard's children), and a reader at the watermark."""
        inherited = [self._caught_up(a, []).own for a in self._ancestors(shard_id)]
        self._windows[shard_id] = self._caught_up(shard_id, inherited)
        committed = self._rows_watermark.get(self._key(shard_id))
        self._readers[shard_id] = self.stream.reader(shard_id, committed)
        self._read_to[shard_id] = committed or 0

    def _ancestors(self, shard_id: str) -> list[str]:
        """The shard's listed parents, grandparents…, nearest first."""
        found: list[str] = []
        frontier = list(self._shards[shard_id].parent_shard_ids)
        while frontier:
            parent = frontier.pop(0)
            if parent in self._shards and parent not in found:
                found.append(parent)
                frontier.extend(self._shards[parent].parent_shard_ids)
        return found

    def _caught_up(
        self, shard_id: str, inherited: list[data_processor_rs.Deduplicator]
    ) -> ShardWindow:
        """The shard's saved window, when it can be trusted (``WindowStore.load``), then the
        committed records it has not seen, re-read for their keys (and for their jobs'
        status, in case a crash came before it was recorded), without committing."""
        assert self._window_store is not None  # noqa: S101 — narrows the type for mypy; holds by construction
        key = self._key(shard_id)
        committed = self._rows_watermark.get(key)
        own, seen = self._window_store.load(shard_id, committed)
        window = ShardWindow(own, inherited)
        if seen is not None:
            self._window_saved[shard_id] = (time.monotonic(), seen)
        if committed is not None and (seen is None or seen < committed):
            reader = self.stream.reader(shard_id, seen)
            relearned = empty_pages = 0
            jobs: list[JobProgress] = []
            done = False
            while not done:
                self._leases.renew_if_due()  # a long replay must not cost the leases held
                batch = reader.read(self.settings.consumer.read_limit)
                records = [r for r in batch.records if r.sequence_number <= committed]
                done = len(records) < len(batch.records)
                # Only the keys it owns (what was forwarded was published before the commit).
                for processed in self._records.process(records, window, self._own_range(shard_id)):
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
        return window

    def _save_windows(self, *, force: bool = False) -> None:
        """Save the windows of the shards held whose committed position moved. Only called
        right after a commit (or when nothing is pending), when windows and lake agree."""
        assert self._window_store is not None  # noqa: S101 — narrows the type for mypy; holds by construction
        now = time.monotonic()
        for shard_id, window in self._windows.items():
            position = self._rows_watermark.get(self._key(shard_id))
            saved_at, saved = self._window_saved.get(shard_id, (-SAVE_WINDOW_EVERY_SECONDS, None))
            if position is None or position == saved:
                continue
            if force or now - saved_at >= SAVE_WINDOW_EVERY_SECONDS:
                self._window_store.save(shard_id, window.own, position)
                self._window_saved[shard_id] = (now, position)

    # --- shards and leases ------------------------------------------------------------------

    def _refresh_shards(self, *, force: bool = False) -> set[str]:
        """When due (or forced): list the shards, take leases (``LeaseCoordinator``; the
        heartbeat thread renews them), drop the shards lost and adopt the shards taken. The
        shards dropped (some may be adopted again: held anew, read again from the lake)."""
        if not force and not self._leases.due():
            return self._drop_lost()
        self._shards = {s.shard_id: s for s in self.stream.shards()}
        self._leases.refresh(list(self._shards.values()))
        dropped = self._drop_lost()
        new = [s for s in self._leases.held if s not in self._readers and s in self._shards]
        if new:
            # Another consumer may have committed these shards since this one last looked.
            self._rows_watermark = watermark.merge(
                self._rows_watermark, self.lake.watermark(self.dataset)
            )
            self._dead_letter_watermark = watermark.merge(
                self._dead_letter_watermark, self.lake.watermark(DEAD_LETTER_TABLE)
            )
            for shard_id in new:
                self._adopt(shard_id)
        return dropped

    def _drop_lost(self) -> set[str]:
        """Drop the shards whose lease was lost since the last look (by the heartbeat thread,
        a refresh, a renewal while re-learning a shard taken over), also those held again
        since, and any reader of a shard not held: the shards dropped."""
        lost = self._leases.take_lost() | (set(self._readers) - set(self._leases.held))
        self._drop(lost)
        return lost

    def _drop(self, shard_ids: set[str]) -> None:
        """Forget shards whose lease was lost: their reader and their window (it may hold keys
        of records that this consumer read and will not commit)."""
        for shard_id in shard_ids:
            self._readers.pop(shard_id, None)
            self._windows.pop(shard_id, None)
            self._read_to.pop(shard_id, None)
            self._behind.pop(shard_id, None)
            self._window_saved.pop(shard_id, None)

    def _keep_leased(self, pending: Pending, *, renew: bool = False) -> Pending:
        """``pending`` without the records of shards whose lease was lost (as the heartbeat
        thread or a refresh found, or renewed now: right before a commit)."""
        if renew:
            self._leases.renew()
            dropped = self._drop_lost()
        else:
            dropped = self._refresh_shards()
        # A shard lost and taken again meanwhile is read again from the lake: its records
        # read before are dropped with the others'.
        held = {self._key(s) for s in self._leases.held if s not in dropped}
        lost = set(pending.parts) - held
        if not lost:
            return pending
        # A warning: a consumer that loses shards while holding their records was paused or
        # cut off from the state database for longer than its leases (the operator wants to
        # know); another consumer reads those records again from the lake's position.
        log.warning(
            "%s: lost the leases of %s; their records read since the last commit are left to "
            "the new owner",
            self.dataset,
            ", ".join(sorted(lost)),
        )
        return pending.without(lost)

    def _finish(self, shard_ids: set[str]) -> None:
        """Shards read to their end, all committed: save their windows (their children start
        from them) and mark their leases finished; a refresh soon takes the children."""
        shard_ids = shard_ids & set(self._readers)
        if not shard_ids:
            return
        self._save_windows(force=True)
        for shard_id in sorted(shard_ids):
            self._leases.finish(shard_id)
        self._finished |= shard_ids
        self._drop(shard_ids)

    def _own_range(self, shard_id: str) -> tuple[int, int] | None:
        """The hash key range whose events this shard lands, when they must be checked: only a
        split's child can receive events of its sibling's keys (an API routing by a map that
        still lists the parent); a merge's child owns both parents' ranges."""
        shard = self._shards.get(shard_id)
        if shard is None or not shard.parent_shard_ids:
            return None
        return shard.hash_range

    def _readable(self) -> list[str]:
        return [s for s in self._readers if s not in self._finished]

    def waiting_for_shards(self) -> bool:
        """Whether a drain must wait before it may say the stream is in the lake: a readable
        shard is held by no live consumer yet (a killed consumer's lease has not expired, a
        finished parent's child is about to be taken), or another consumer holds a shard with
        records after the lake's watermark (it lands them; the drain waits for it)."""
        if self._leases.unclaimed or self._leases.due():
            return True
        others = self._leases.others - set(self._readers)
        if not others:
            return False
        committed = self.lake.watermark(self.dataset)
        for shard_id in sorted(others):
            probe = self.stream.reader(shard_id, committed.get(self._key(shard_id))).read(1)
            if probe.records:
                return True
        return False

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
        pending = Pending()
        while True:
            got = False
            for shard_id in self._readable():
                batch = self._readers[shard_id].read(limits.read_limit)
                self._behind[shard_id] = batch.behind
                key = self._key(shard_id)
                got = got or bool(batch.records)
                processed_records = self._records.process(
                    batch.records, self._windows[shard_id], self._own_range(shard_id)
                )
                for record, processed in zip(batch.records, processed_records, strict=True):
                    self._note_expired(pending, key, record)
                    self._add(pending, key, record, processed)
                if batch.at_end:
                    for target in (pending, pending.parts.setdefault(key, Pending())):
                        target.finished.add(shard_id)
                if pending.full(limits):
                    break
            # The heartbeat, when due: a shard lost meanwhile leaves the batch.
            pending = self._keep_leased(pending)
            if not pending.records:
                # Nothing to commit; shards read to their end with nothing left are done.
                self._finish(pending.finished)
                if self._leases.held:
                    self._save_windows()
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
        # Only what this consumer still holds, as of now (the lake judges a commit that races
        # a takeover: see the module doc).
        pending = self._keep_leased(pending, renew=True)
        if not pending.records:
            return None
        return self._commit(pending, started)

    def _note_expired(self, pending: Pending, key: str, record: StreamRecord) -> None:
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
        dead = self._records.dead_letter(rows, "", f"stream:{record.shard_id}", record.arrived_at)
        nbytes = dead.nbytes
        for target in (pending, pending.parts.setdefault(key, Pending())):
            target.hold_dead_letters(key, record.sequence_number, dead, nbytes)
            target.dead_lettered += 1

    def _add(self, pending: Pending, key: str, record: StreamRecord, processed: Processed) -> None:
        # Into the batch and into its shard's part (what a lost lease takes out of the batch).
        rows, dead = processed.rows, processed.dead_letters
        rows_bytes = rows.nbytes if rows is not None and rows.num_rows else 0
        dead_bytes = dead.nbytes if dead is not None else 0
        for target in (pending, pending.parts.setdefault(key, Pending())):
            target.saw(key, record.sequence_number)
            target.received += processed.received
            target.duplicates += processed.duplicates
            if rows is not None and rows.num_rows:
                target.hold_rows(rows, rows_bytes)
                target.landed += rows.num_rows
            if dead is not None:
                target.hold_dead_letters(key, record.sequence_number, dead, dead_bytes)
                target.dead_lettered += dead.num_rows
            if processed.job is not None:
                target.jobs.append(processed.job)
            target.forwards.extend(processed.forwards)

    def _commit(self, pending: Pending, started: float) -> BatchReport:
        ranges = {
            key: watermark.SequenceRange(pending.first[key], last)
            for key, last in pending.last.items()
        }
        # On failure (another consumer took these positions, the lake kept refusing, the
        # outcome is unknown), poll_batch starts over from what the lake holds.
        if pending.forwards:
            # Before the commit that moves past their records (see RecordProcessor._keep_own).
            self.stream.publish(pending.forwards)
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
        self._record(pending, commit)
        self._finish(pending.finished)
        self._save_windows()
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

    def _commit_dead_letters(self, pending: Pending) -> None:
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

    def _record(self, pending: Pending, commit: TableCommit) -> None:
        """Job status, commit log and shard progress: informational, after the lake. A
        failure here does not undo the commit, so it is logged, not raised (job status is
        repaired when a later start re-learns the records)."""
        try:
            self._record_in_state(pending, commit)
        except SQLAlchemyError:
            log.exception("%s: committed, but the job database was not updated", self.dataset)

    def _record_in_state(self, pending: Pending, commit: TableCommit) -> None:
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
        """Save the windows, when they agree with the lake (the last batch was committed), and
        give the leases back, so that the other consumers take the shards at once."""
        try:
            if self._ready:
                self._save_windows(force=True)
            self._leases.release()
        except SQLAlchemyError:
            log.exception("%s: could not save the windows or release the leases", self.dataset)
        finally:
            self._leases.stop_heartbeat()  # a closed consumer never renews, whatever failed
            self._invalidate()
            self._records.close()
