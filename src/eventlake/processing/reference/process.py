"""The four steps in one call: parse → validate → transform → deduplicate (``process.rs``)."""

from __future__ import annotations

from eventlake.contracts import ContractSpec
from eventlake.processing.reference.batch import TransformedBatch
from eventlake.processing.reference.dedup import Deduplicator, deduplicate
from eventlake.processing.reference.parse import (
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    DEFAULT_MAX_RECORD_BYTES,
    parse_events,
)
from eventlake.processing.reference.transform import transform_batch
from eventlake.processing.reference.validate import validate_schema


def process(
    data: bytes,
    contract: ContractSpec,
    *,
    format: str = "auto",
    job_id: str = "",
    source: str = "",
    ingested_at_us: int | None = None,
    deduplicator: Deduplicator | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> TransformedBatch:
    """parse -> validate -> transform -> deduplicate (against ``deduplicator`` when given,
    else within the batch)."""
    parsed = parse_events(
        data,
        format,
        max_record_bytes=max_record_bytes,
        max_decompressed_bytes=max_decompressed_bytes,
    )
    validated = validate_schema(parsed, contract)
    transformed = transform_batch(
        validated, job_id=job_id, source=source, ingested_at_us=ingested_at_us
    )
    if deduplicator is not None:
        return deduplicator.deduplicate(transformed)
    return deduplicate(transformed)
