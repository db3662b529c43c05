"""The ingest pipeline of one request: check the body, validate it with the Rust core, publish
it to the stream, record the job (the steps are listed in :mod:`eventlake.ingest`)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import data_processor_rs
import pyarrow as pa
from sqlalchemy.exc import SQLAlchemyError

from eventlake.config import KinesisStreamSettings, Settings
from eventlake.ingest import event_ids, routing
from eventlake.ingest.errors import (
    BadBodyError,
    DependencyUnavailableError,
    IdempotencyConflict,
    NoValidRecordsError,
    PayloadTooLargeError,
    UnknownDatasetError,
)
from eventlake.ingest.headers import (
    body_format_of,
    check_idempotency_key,
    content_encoding_of,
    gunzip,
)
from eventlake.ingest.prepared import IngestAnswer, PreparedBatch
from eventlake.processing.gunzip import GZIP_MAGIC
from eventlake.state import IdempotencyConflictError, PublishedJob, StateStore
from eventlake.state.idempotency import ClaimKeeper
from eventlake.stream import OutgoingRecord, PublishedRecord, Stream, StreamError, open_stream
from eventlake.stream.envelope import MAX_RECORD_BYTES, BodyFormat, Encoder, Encoding, Envelope

log = logging.getLogger(__name__)

EXCERPT_CHARS = 100
# Job ids of idempotent requests: uuid5 of (source, key) in this namespace.
IDEMPOTENT_JOBS = uuid.UUID("6f6b1c1e-7a0e-4d55-9a59-3f1de6c0e2a1")


@dataclass
class _Checked:
    """What the Rust core made of a body."""

    body: bytes
    received: int
    accepted: int
    rejected: int
    reasons: list[dict[str, Any]] = field(default_factory=list)
    reasons_truncated: bool = False
    # The core's batch and where its records lie (for routing: data_processor_rs.route).
    batch: data_processor_rs.ValidatedBatch | None = None
    extents: data_processor_rs.RecordExtents | None = None


@dataclass(frozen=True)
class _Request:
    """What the request's headers and dataset say, checked."""

    contract: data_processor_rs.Contract
    body_format: BodyFormat
    encoding: Encoding
    received_at_us: int


class StreamPool:
    """One stream per dataset, opened and ensured on first use, so that a stream that is
    down when the service starts is tried again on the next request rather than never."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._streams: dict[str, Stream] = {}
        self._lock = threading.Lock()

    def get(self, dataset: str) -> Stream:
        stream = self._streams.get(dataset)
        if stream is not None:
            return stream
        with self._lock:
            stream = self._streams.get(dataset)
            if stream is None:
                stream = open_stream(self.settings, dataset)
                stream.ensure()
                self._streams[dataset] = stream
            return stream

    def close(self) -> None:
        with self._lock:
            streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            stream.close()


def load_contracts(contracts_dir: Path) -> dict[str, data_processor_rs.Contract]:
    """Every contract in the folder, by name (a bad contract fails here, at start-up)."""
    contracts = {}
    for path in sorted(contracts_dir.glob("*.yaml")):
        contract = data_processor_rs.Contract.from_file(path)
        contracts[contract.name] = contract
    return contracts


class Ingestor:
    """Thread-safe; one per process. ``accept`` blocks (validation, group commit): call it
    from a worker thread in async code."""

    def __init__(
        self, settings: Settings, state: StateStore, *, streams: StreamPool | None = None
    ) -> None:
        self.settings = settings
        self.state = state
        self.streams = streams or StreamPool(settings)
        self.contracts = load_contracts(settings.contracts_dir)
        self.max_body_bytes = settings.api.max_body_bytes
        self.shard_maps = routing.ShardMapCache()
        self.claims = ClaimKeeper(state, settings.api.idempotency_lease_seconds)
        # Kinesis takes records of 1 MiB at most; the embedded log has no such limit.
        self.max_stream_record_bytes = (
            MAX_RECORD_BYTES if isinstance(settings.stream.backend, KinesisStreamSettings) else None
        )

    @property
    def datasets(self) -> list[str]:
        return sorted(self.contracts)

    def accept(
        self,
        body: bytes,
        *,
        dataset: str,
        content_type: str | None,
        content_encoding: str | None,
        source: str,
        idempotency_key: str | None = None,
        publish: Callable[[PreparedBatch], IngestAnswer] | None = None,
    ) -> IngestAnswer:
        """The whole request, blocking. ``publish``: how the prepared batch is published,
        ``publish_one`` (in this thread) unless given: the API passes its writer's, which
        publishes it with other requests'."""
        publish = publish or self.publish_one
        if idempotency_key is None:
            return publish(
                self.prepare(
                    body,
                    dataset=dataset,
                    content_type=content_type,
                    content_encoding=content_encoding,
                    source=source,
                )
            )
        request = self._request(body, dataset, content_type, content_encoding)
        check_idempotency_key(idempotency_key)
        # The job id is derived from the key (and generated event ids from the job id):
        # should a retry ever publish the batch again (its first answer was lost and the
        # claim lapsed), the copy carries the same ids and the consumer drops it.
        job_id = uuid.uuid5(IDEMPOTENT_JOBS, f"{source}\n{idempotency_key}").hex
        fingerprint = hashlib.sha256(
            b"\0".join(
                (dataset.encode(), request.body_format.encode(), request.encoding.encode(), body)
            )
        ).hexdigest()
        try:
            first = self.claims.claim(source, idempotency_key, fingerprint)
        except IdempotencyConflictError as error:
            raise IdempotencyConflict(str(error), retry_after=error.retry_after) from None
        except SQLAlchemyError as error:
            raise _state_unavailable(error) from None
        if first is not None:
            status_code, stored = first
            return IngestAnswer(status_code, json.loads(stored), replayed=True)
        # The claim is renewed while this request works, and lapses within a lease should
        # the process die; a retry then takes it over and comes here again.
        with self.claims.held(source, idempotency_key):
            published = self._published_answer(job_id)
            if published is not None:  # published before, but its answer was never stored
                self._store_answer(source, idempotency_key, published)
                return published
            try:
                answer = publish(self._prepare(body, request, source, job_id))
            except BaseException:
                # Nothing was published (preparing raises before publishing, publishing
                # fails only when the stream did not take the batch): the client may retry
                # with the same key, e.g. after fixing the body.
                self._release(source, idempotency_key)
                raise
            self._store_answer(source, idempotency_key, answer)
            return answer

    def prepare(
        self,
        body: bytes,
        *,
        dataset: str,
        content_type: str | None,
        content_encoding: str | None,
        source: str,
    ) -> PreparedBatch:
        """A request without an Idempotency-Key, checked, validated, cut and encoded: ready
        for ``publish_one`` or the API's writer (nothing is published yet). A body with no
        valid record is recorded as a rejected job and raises NoValidRecordsError."""
        request = self._request(body, dataset, content_type, content_encoding)
        return self._prepare(body, request, source, uuid.uuid4().hex)

    def publish_one(self, batch: PreparedBatch) -> IngestAnswer:
        (outcome,) = self.record_published([batch], self.publish_records([batch]))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def publish_records(
        self, batches: Sequence[PreparedBatch]
    ) -> list[PublishedJob | DependencyUnavailableError]:
        """Publish several requests' batches together: one ``publish_each`` per stream (one
        group commit: one fsync, or PutRecords calls of many requests). Each request's job
        row to record (``record_published``) once its parts are durably in the stream, or
        the error of a request the stream did not take (the others do not fail with it)."""
        by_stream: dict[int, list[int]] = {}
        for index, batch in enumerate(batches):
            by_stream.setdefault(id(batch.stream), []).append(index)
        results: dict[int, list[PublishedRecord] | StreamError] = {}
        for indexes in by_stream.values():
            stream = batches[indexes[0]].stream
            try:
                landed = stream.publish_each([batches[index].records for index in indexes])
            except StreamError as error:  # a stream closed under the request
                landed = [error] * len(indexes)
            results.update(zip(indexes, landed, strict=True))
        outcomes: list[PublishedJob | DependencyUnavailableError] = []
        for index, batch in enumerate(batches):
            published = results[index]
            if isinstance(published, StreamError):
                outcomes.append(
                    DependencyUnavailableError(
                        f"the stream did not take the batch, nothing was published: {published}",
                        code="stream_unavailable",
                    )
                )
            else:
                self._check_landing(batch.answer["dataset"], batch.parts, published)
                outcomes.append(batch.published_job(published))
        return outcomes

    def record_published(
        self,
        batches: Sequence[PreparedBatch],
        published: Sequence[PublishedJob | DependencyUnavailableError],
    ) -> list[IngestAnswer | DependencyUnavailableError]:
        """The job rows of the requests ``publish_records`` published, in one transaction;
        each request's answer (202), or its error. The rows of a group are written while
        the API's writer publishes the next group."""
        jobs = [job for job in published if isinstance(job, PublishedJob)]
        if jobs:
            try:
                self.state.add_published_jobs(jobs)
            except SQLAlchemyError as error:
                # The batches are durably in the stream, so the answers are still 202; the
                # consumer records each job when it commits its batch. One line (see
                # _store_answer).
                log.error(
                    "%d published jobs could not be recorded (%s): %s",
                    len(jobs),
                    ", ".join(job.job_id for job in jobs[:10]),
                    _one_line(error),
                )
        answers: list[IngestAnswer | DependencyUnavailableError] = []
        for batch, outcome in zip(batches, published, strict=True):
            if isinstance(outcome, PublishedJob):
                batch.answer["status"] = "published"
                answers.append(IngestAnswer(202, batch.answer))
            else:
                answers.append(outcome)
        return answers

    def _store_answer(self, source: str, key: str, answer: IngestAnswer) -> None:
        """Store the first answer for replays, trying a few times. The record is in the
        stream: answering an error now would invite a retry. If it cannot be stored, a retry
        after the claim lapses finds the job (same id) and answers from it."""
        for attempt in range(3):
            try:
                self.state.store_idempotent_answer(
                    source, key, answer.status_code, json.dumps(answer.body)
                )
                return
            except SQLAlchemyError as error:
                if attempt == 2:
                    # One line, never the traceback: a database error's text carries the
                    # statement's parameters, here the answer and its rejected records.
                    log.error(
                        "could not store the answer of job %s: %s",
                        answer.body["job_id"],
                        _one_line(error),
                    )
                time.sleep(0.05 * (attempt + 1))

    def _published_answer(self, job_id: str) -> IngestAnswer | None:
        try:
            job = self.state.job(job_id)
        except SQLAlchemyError as error:
            raise _state_unavailable(error) from None
        if job is None or job["published_at"] is None:
            return None
        body = {
            "job_id": job_id,
            "dataset": job["name"],
            "status": "published",
            "received": job["received"],
            "accepted": job["accepted"],
            "rejected": job["rejected"],
            "reasons": [],
            "reasons_truncated": job["rejected"] > 0,
            "status_url": f"/api/v1/status/{job_id}",
        }
        return IngestAnswer(202, body, replayed=True)

    # --- the steps ------------------------------------------------------------------------

    def _contract(self, dataset: str) -> data_processor_rs.Contract:
        contract = self.contracts.get(dataset)
        if contract is None:
            known = ", ".join(self.datasets)
            raise UnknownDatasetError(f"unknown dataset {dataset[:64]!r}; datasets: {known}")
        return contract

    def _request(
        self,
        body: bytes,
        dataset: str,
        content_type: str | None,
        content_encoding: str | None,
    ) -> _Request:
        received_at_us = time.time_ns() // 1000
        contract = self._contract(dataset)
        body_format = body_format_of(content_type)
        encoding = content_encoding_of(content_encoding)
        if len(body) > self.max_body_bytes:
            raise PayloadTooLargeError(f"the body is larger than {self.max_body_bytes} bytes")
        return _Request(contract, body_format, encoding, received_at_us)

    def _prepare(self, raw: bytes, request: _Request, source: str, job_id: str) -> PreparedBatch:
        contract, body_format = request.contract, request.body_format
        body = self._decompress(raw, request.encoding)
        checked = self._check(body, body_format, contract, job_id)
        dataset = contract.name
        answer = {
            "job_id": job_id,
            "dataset": dataset,
            "status": "accepted",
            "received": checked.received,
            "accepted": checked.accepted,
            "rejected": checked.rejected,
            "reasons": checked.reasons,
            "reasons_truncated": checked.reasons_truncated,
            "status_url": f"/api/v1/status/{job_id}",
        }
        if checked.accepted == 0:
            # A job that says why, so /status answers for it too; nothing is published.
            answer["status"] = "rejected"
            self._create_job(answer, source, status="rejected", detail={"reasons": checked.reasons})
            raise NoValidRecordsError("no record in the body is valid", answer)

        stream = self._stream(dataset)
        parts = self._route(dataset, stream, checked, body_format)
        envelope = Envelope(
            dataset, job_id, source, request.received_at_us, body_format, parts=len(parts)
        )
        encoder = Encoder(envelope)
        # Every part is encoded (and checked against the record size limit) before any is
        # published, and all are published together: one group commit, one fsync.
        records = [
            OutgoingRecord(job_id, self._stream_record(encoder, part.body), part.hash_key)
            for part in parts
        ]
        return PreparedBatch(answer, source, stream, parts, records)

    def _route(
        self, dataset: str, stream: Stream, checked: _Checked, body_format: BodyFormat
    ) -> list[routing.Part]:
        """The parts of the body, one per shard owning some of its events' keys. The whole
        body as one part (keyed by the job id, as before routing) when the stream does not
        say its shards' hash ranges or the body cannot be cut (see ``routing.split``)."""
        try:
            shard_map = self.shard_maps.get(dataset, stream.shards)
        except Exception as error:  # StreamError, or a backend that cannot list its shards
            raise DependencyUnavailableError(
                f"the stream's shards are not known, nothing was published: {error}",
                code="stream_unavailable",
            ) from None
        parts = None
        batch = checked.batch
        if shard_map is not None and len(shard_map.shard_ids) == 1:
            # One shard owns every key: nothing to hash or cut.
            return [routing.Part(shard_map.shard_ids[0], 0, checked.body, checked.received)]
        if shard_map is not None and batch is not None and checked.extents is not None:
            parts = routing.split(checked.body, batch, checked.extents, shard_map)
        if parts is None:
            return [routing.Part("", None, checked.body, checked.received)]
        return parts

    def _check_landing(
        self, dataset: str, parts: list[routing.Part], published: list[PublishedRecord]
    ) -> None:
        """A part that landed on another shard than the map said: the stream was resharded
        since the map was listed. List it again on the next request (what this means for the
        events already published: docs/stream-and-consumer.md, "Routing and resharding")."""
        moved = [
            (part.shard_id, landed.shard_id)
            for part, landed in zip(parts, published, strict=True)
            if part.shard_id and part.shard_id != landed.shard_id
        ]
        if moved:
            log.warning("%s: parts landed on other shards than mapped %s", dataset, moved)
            self.shard_maps.stale(dataset)

    def _decompress(self, raw: bytes, encoding: Encoding) -> bytes:
        # A gzip body sent without Content-Encoding would be gunzipped by the core anyway
        # (it sniffs the magic bytes); doing it here keeps the same size limit on it.
        if encoding == "gzip" or raw.startswith(GZIP_MAGIC):
            return gunzip(raw, self.max_body_bytes)
        return raw

    def _check(
        self,
        body: bytes,
        body_format: BodyFormat,
        contract: data_processor_rs.Contract,
        job_id: str,
    ) -> _Checked:
        batch, extents = self._validate(body, body_format, contract)
        dedup_key = contract.dedup_key
        if batch.num_rejected and len(dedup_key) == 1 and dedup_key[0] == "event_id":
            missing = event_ids.missing_key_records(batch.rejected, dedup_key[0])
            if missing:
                filled = event_ids.fill_ids(
                    body,
                    body_format,
                    dedup_key[0],
                    missing,
                    lambda index: event_ids.generated_id(job_id, index),
                )
                if filled is not None:
                    body = filled
                    batch, extents = self._validate(body, body_format, contract)
        if batch.num_received == 0:
            raise BadBodyError("the body holds no records", code="empty_body")
        reasons, truncated = (
            rejection_reasons(batch.rejected, self.settings.api.max_reasons)
            if batch.num_rejected
            else ([], False)
        )
        return _Checked(
            body=body,
            received=batch.num_received,
            accepted=len(batch),
            rejected=batch.num_rejected,
            reasons=reasons,
            reasons_truncated=truncated,
            batch=batch,
            extents=extents,
        )

    def _validate(
        self, body: bytes, body_format: BodyFormat, contract: data_processor_rs.Contract
    ) -> tuple[data_processor_rs.ValidatedBatch, data_processor_rs.RecordExtents]:
        """The core's batch, and where its records lie (for routing), in one pass.

        A JSON array that ends before its ``]`` was cut off on the way (a client or proxy
        gave up mid-upload), not written wrong: 400 ``truncated_body`` with nothing
        published, so that the client's retry with the whole body (and the same
        Idempotency-Key: the claim is released) goes through. Files and the consumer keep
        the lenient reading (docs/api.md, "Errors")."""
        try:
            return data_processor_rs.validate_events(
                body,
                contract,
                body_format,
                max_record_bytes=self.settings.max_record_bytes,
                max_decompressed_bytes=self.max_body_bytes,
                truncated_is_error=True,
            )
        except data_processor_rs.InputError as error:
            if error.reason == "truncated_body":
                raise BadBodyError(str(error), code="truncated_body") from None
            raise BadBodyError(error.reason, code="unreadable_body") from None

    def _stream(self, dataset: str) -> Stream:
        try:
            return self.streams.get(dataset)
        except Exception as error:  # StreamError, or a backend that cannot even be set up
            if not isinstance(error, StreamError):
                log.exception("could not open the stream of %s", dataset)
            raise DependencyUnavailableError(
                f"the stream is not available, nothing was published: {error}",
                code="stream_unavailable",
            ) from None

    def _stream_record(self, encoder: Encoder, body: bytes) -> bytes:
        # Large bodies travel gzipped (level 1, about 5x smaller for JSON): the embedded log
        # writes every byte twice (WAL, then checkpoint) and fsyncs it, Kinesis bills by size.
        # zlib works without the GIL, so this costs the request thread, not the event loop.
        compress_over = self.settings.stream.compress_over_bytes
        encoding: Encoding = "identity"
        if compress_over and len(body) > compress_over:
            encoding = "gzip"
        record = encoder.encode(body, encoding)
        limit = self.max_stream_record_bytes
        if limit is None or len(record) <= limit:
            return record
        if encoding != "gzip":
            record = encoder.encode(body, "gzip")
        if len(record) > limit:
            raise PayloadTooLargeError(
                f"the batch is {len(record)} bytes once compressed, more than the stream's "
                f"{limit} per record: send smaller batches"
            )
        return record

    # --- state ----------------------------------------------------------------------------

    def _create_job(
        self,
        answer: dict[str, Any],
        source: str,
        *,
        status: str,
        stream: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        try:
            self.state.add_job(
                answer["job_id"],
                name=answer["dataset"],
                source=source,
                status=status,
                received=answer["received"],
                accepted=answer["accepted"],
                rejected=answer["rejected"],
                stream=stream,
                detail=detail,
            )
        except SQLAlchemyError as error:
            raise _state_unavailable(error) from None

    def _release(self, source: str, key: str) -> None:
        try:
            self.claims.release(source, key)
        except SQLAlchemyError as error:
            log.error(
                "could not release an idempotency key; it lapses after its lease: %s",
                _one_line(error),
            )

    def close(self) -> None:
        self.claims.close()
        self.streams.close()


# --- rejections -----------------------------------------------------------------------------


def rejection_reasons(rejected: pa.RecordBatch, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The first ``limit`` rejections for the answer: where, which field, why, and a short
    excerpt of the record (never the whole payload)."""
    reasons = []
    for row in rejected.slice(0, limit).to_pylist():
        raw = row["raw"]
        reasons.append(
            {
                "record_index": row["record_index"],
                "line": row["line"],
                "field": row["field"],
                "reason": row["reason"],
                "message": row["message"],
                "excerpt": raw if len(raw) <= EXCERPT_CHARS else raw[:EXCERPT_CHARS] + "…",
            }
        )
    return reasons, rejected.num_rows > limit


def _state_unavailable(error: SQLAlchemyError) -> DependencyUnavailableError:
    log.error("state database error: %s", _one_line(error))
    return DependencyUnavailableError(
        "the job database is not available, nothing was published", code="state_unavailable"
    )


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]
