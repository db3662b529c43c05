"""Take one request body in: check it, validate it with the Rust core, publish it to the stream.

This is the library behind ``POST /api/v1/ingest``; the API only reads the body and maps the
typed errors below onto HTTP answers. Each step, in order:

1. The dataset names a data contract, the content type a format (JSON, NDJSON, CSV), the
   content encoding ``identity`` or ``gzip``. A gzip body is decompressed here, with the same
   size limit as a raw body, so the stream carries plain bytes.
2. With an ``Idempotency-Key``, the key is claimed (or the first answer replayed) before any
   work is done; it is released again if the request fails before anything is published.
3. The Rust core parses and validates the body. For a contract whose dedup key is
   ``event_id``, records sent without one get a fresh id and the body is validated again.
   Only then is Python's json/csv module used, and only on the records that need an id: a
   body where every record has one is never rewritten.
4. A body with no valid record is answered 422, recorded as a ``rejected`` job (so that
   ``/status`` can say why) and not published. Otherwise the body, invalid records included,
   is cut into one part per shard owning some of its events' dedup keys (see
   :mod:`eventlake.ingest.routing`), and the parts are published in ONE call, each as a
   stream record (see :mod:`eventlake.stream.envelope`): the consumer validates each again,
   deterministically, and sends the same rejections to the dead-letter table under the job,
   so nothing is dropped silently.
5. The answer (202) is given only once the stream has every part durably; then the job and
   its parts are written, and the request is answered. Requests are published in groups: the
   API's ``GroupWriter`` publishes every request waiting on its event loop in one stream write
   (one thread), and a second thread writes their job rows in one transaction while the next
   group is published. A consumer that commits a part first writes its part of the same rows;
   neither overwrites the other.

The modules: ``ingestor`` (the steps above), ``prepared`` (a request ready to publish, its
answer), ``writer`` (the API's groups), ``routing`` (the parts, the shard map),
``headers`` (format, encoding, gunzip, idempotency key), ``event_ids`` (ids for records sent
without one), ``errors``.
"""

from eventlake.ingest.errors import (
    BadBodyError,
    BadIdempotencyKeyError,
    DependencyUnavailableError,
    IdempotencyConflict,
    IngestError,
    NoValidRecordsError,
    PayloadTooLargeError,
    UnknownDatasetError,
    UnsupportedMediaTypeError,
)
from eventlake.ingest.headers import (
    MEDIA_TYPES,
    body_format_of,
    check_idempotency_key,
    content_encoding_of,
    gunzip,
)
from eventlake.ingest.ingestor import (
    Ingestor,
    StreamPool,
    load_contracts,
    rejection_reasons,
)
from eventlake.ingest.prepared import IngestAnswer, PreparedBatch
from eventlake.ingest.writer import GroupWriter

__all__ = [
    "MEDIA_TYPES",
    "BadBodyError",
    "BadIdempotencyKeyError",
    "DependencyUnavailableError",
    "GroupWriter",
    "IdempotencyConflict",
    "IngestAnswer",
    "IngestError",
    "Ingestor",
    "NoValidRecordsError",
    "PayloadTooLargeError",
    "PreparedBatch",
    "StreamPool",
    "UnknownDatasetError",
    "UnsupportedMediaTypeError",
    "body_format_of",
    "check_idempotency_key",
    "content_encoding_of",
    "gunzip",
    "load_contracts",
    "rejection_reasons",
]
