"""Process files through the Rust core: the batch path behind ``eventlake process`` and ``run``.

An NDJSON file is read in chunks cut at line ends, so memory stays bounded however large the
file; each chunk is one batch through parse → validate → transform → deduplicate, with one
:class:`data_processor_rs.Deduplicator` across the chunks. JSON arrays and CSV files are one
batch. Landed rows go to the dataset's Iceberg table and rejected records, with their line
numbers in the file, to the dead-letter table; a Parquet export is optional.

Exactly once for files: the position key is the file's name and content hash, each chunk's
positions the byte offsets it spans (so a resume with another chunk size is refused as an
overlap rather than misread). Processing the same file again skips every chunk the lake already
holds (resuming after a crash mid-file), while every chunk still passes through the
deduplicator, so duplicates across the crash point are still found.
"""

from __future__ import annotations

import collections
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import data_processor_rs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from eventlake.lake import Lake

DEFAULT_CHUNK_BYTES = 16 << 20
# Files this large or larger of a single-batch format (JSON array, CSV) are refused: they
# would be held in memory whole. Split them, or send NDJSON.
MAX_SINGLE_BATCH_BYTES = 1 << 30


@dataclass
class FileReport:
    """What happened to one file: counts reconcile as received = landed + rejected + duplicates."""

    path: Path
    dataset: str
    format: str
    bytes: int
    received: int = 0
    landed: int = 0
    rejected: int = 0
    duplicates: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    core_seconds: float = 0.0  # inside data_processor_rs.process: parse → dedup into Arrow
    outputs: list[Path] = field(default_factory=list)
    position_key: str = ""
    committed_batches: int = 0
    skipped_batches: int = 0  # already in the lake from an earlier run
    snapshot_ids: list[int] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.received == self.landed + self.rejected + self.duplicates

    @property
    def events_per_second(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    @property
    def core_events_per_second(self) -> float:
        return self.received / self.core_seconds if self.core_seconds > 0 else 0.0


def ndjson_chunks(
    path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[tuple[bytes, int]]:
    """Yield (chunk, lines before it): chunks end at a line end, except a final unterminated line.

    A single line longer than ``chunk_bytes`` is kept whole (the core rejects it as too large).
    """
    if chunk_bytes <= 0:
        raise ValueError("chunk_bytes must be positive")
    lines_before = 0
    carry = b""
    with path.open("rb") as handle:
        while block := handle.read(chunk_bytes):
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data  # no line end yet: keep reading
                continue
            chunk, carry = data[:cut], data[cut:]
            yield chunk, lines_before
            lines_before += chunk.count(b"\n")
    if carry:
        yield carry, lines_before


def detect_file_format(path: Path) -> data_processor_rs.Format:
    """From the name (``.ndjson``/``.jsonl``, ``.json``, ``.csv``, optionally ``.gz``)."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".ndjson", ".jsonl")):
        return "ndjson"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".csv"):
        return "csv"
    return "auto"


def _file_batches(
    path: Path, file_format: data_processor_rs.Format, chunk_bytes: int
) -> Iterator[tuple[bytes, int]]:
    if file_format == "ndjson" and not path.name.endswith(".gz"):
        yield from ndjson_chunks(path, chunk_bytes)
        return
    size = path.stat().st_size
    if size > MAX_SINGLE_BATCH_BYTES:
        raise ValueError(
            f"{path} is {size:,} bytes; a {file_format} file is read whole and may be at most "
            f"{MAX_SINGLE_BATCH_BYTES:,} bytes: split it or convert it to NDJSON"
        )
    yield path.read_bytes(), 0


def process_file(
    path: Path,
    contract: data_processor_rs.Contract,
    *,
    output_dir: Path | None = None,
    deduplicator: data_processor_rs.Deduplicator | None = None,
    job_id: str = "",
    source: str = "",
    file_format: data_processor_rs.Format | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_record_bytes: int = 1_048_576,
    max_decompressed_bytes: int = 1 << 30,
    on_bytes: Callable[[int], None] | None = None,
    lake: Lake | None = None,
) -> FileReport:
    """Run one file through the core; commit to ``lake`` and write Parquet under
    ``output_dir`` when given."""
    chosen = file_format or detect_file_format(path)
    dedup = deduplicator if deduplicator is not None else data_processor_rs.Deduplicator()
    report = FileReport(path=path, dataset=contract.name, format=chosen, bytes=path.stat().st_size)
    if lake is not None:
        from eventlake.lake import SequenceRange

        report.position_key = file_position_key(path, contract.name)
        source = source or report.position_key
        lake.ensure_dataset(contract)
        lake.ensure_dead_letter()
    reasons: collections.Counter[str] = collections.Counter()
    landed_writer: pq.ParquetWriter | None = None
    rejected_writer: pq.ParquetWriter | None = None
    if output_dir is not None:
        for folder in (contract.name, f"{contract.name}_rejected"):
            for stale in (output_dir / folder).glob("*.parquet"):
                stale.unlink()  # this run's output replaces the last one's
    began = time.perf_counter()
    try:
        offset = 0  # a chunk's positions are its bytes' offsets in the file
        for chunk, lines_before in _file_batches(path, chosen, chunk_bytes):
            first, offset = offset, offset + len(chunk)
            core_began = time.perf_counter()
            batch = data_processor_rs.process(
                chunk,
                contract,
                format=chosen,
                job_id=job_id,
                source=source,
                deduplicator=dedup,
                max_record_bytes=max_record_bytes,
                max_decompressed_bytes=max_decompressed_bytes,
            )
            report.core_seconds += time.perf_counter() - core_began
            rejected = _in_file_terms(batch.rejected, lines_before, report.received)
            report.received += batch.num_received
            report.landed += len(batch)
            report.rejected += batch.num_rejected
            report.duplicates += batch.num_duplicates
            reasons.update(rejected.column("reason").to_pylist())
            if lake is not None:
                landed = lake.commit_processed(
                    batch,
                    ranges={report.position_key: SequenceRange(first, max(first, offset - 1))},
                    job_id=job_id,
                    source=source,
                    received_at=datetime.now(UTC),
                    rejected=rejected,
                )
                if landed.skipped:
                    report.skipped_batches += 1
                else:
                    report.committed_batches += 1
                    if landed.rows.snapshot_id is not None:
                        report.snapshot_ids.append(landed.rows.snapshot_id)
            if output_dir is not None:
                if len(batch):
                    landed_writer = _write(
                        landed_writer, output_dir / contract.name, batch.to_arrow()
                    )
                if batch.num_rejected:
                    target = output_dir / f"{contract.name}_rejected"
                    rejected_writer = _write(rejected_writer, target, rejected)
            if on_bytes is not None:
                on_bytes(len(chunk))
    finally:
        for writer in (landed_writer, rejected_writer):
            if writer is not None:
                writer.close()
    if output_dir is not None:
        for folder in (contract.name, f"{contract.name}_rejected"):
            report.outputs.extend(sorted((output_dir / folder).glob("*.parquet")))
    report.seconds = time.perf_counter() - began
    report.rejected_by_reason = dict(sorted(reasons.items()))
    return report


def file_position_key(path: Path, dataset: str) -> str:
    """``file:<dataset>/<name>@<content hash>``: the same bytes are the same positions."""
    digest = hashlib.blake2b(digest_size=8)
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return f"file:{dataset}/{path.name}@{digest.hexdigest()}"


def _in_file_terms(
    rejected: pa.RecordBatch, lines_before: int, records_before: int
) -> pa.RecordBatch:
    """Line numbers and record indexes of a chunk's rejections, counted from the file's start."""
    if rejected.num_rows == 0 or (lines_before == 0 and records_before == 0):
        return rejected
    columns = dict(zip(rejected.schema.names, rejected.columns, strict=True))
    columns["line"] = pc.add(columns["line"], lines_before)
    columns["record_index"] = pc.add(columns["record_index"], records_before)
    return pa.RecordBatch.from_pydict(columns, schema=rejected.schema)


def _write(
    writer: pq.ParquetWriter | None, folder: Path, batch: pa.RecordBatch
) -> pq.ParquetWriter:
    if writer is None:
        folder.mkdir(parents=True, exist_ok=True)
        writer = pq.ParquetWriter(folder / "part-0.parquet", batch.schema, compression="zstd")
    writer.write_batch(batch)
    return writer
