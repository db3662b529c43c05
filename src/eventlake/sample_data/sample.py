"""A whole sample: every dataset in every format, and ``manifest.json`` with the counts that
tests and benchmarks reconcile against."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eventlake.sample_data.entities import generate_products, generate_user_renames, generate_users
from eventlake.sample_data.events import _event_chunks
from eventlake.sample_data.model import (
    EVENT_FIELDS,
    FORMATS,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    PRODUCT_FIELDS,
    USER_FIELDS,
    Format,
    SampleConfig,
    SampleSummary,
)
from eventlake.sample_data.writers import _DatasetWriter, write_dataset


def write_sample(
    directory: str | os.PathLike[str],
    config: SampleConfig | None = None,
    formats: Sequence[Format] = ("ndjson",),
    *,
    gzip: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> SampleSummary:
    """Generate a sample into ``directory``: ``events``, ``users``, ``user_renames`` and
    ``products`` in each of ``formats`` (``.gz`` added with ``gzip=True``), then
    ``manifest.json``. The event stream is generated once and streamed to every format.

    ``progress``, if given, is called with the number of events generated since its last call
    (after every block of 32,768 events). ``workers > 1`` generates blocks in that many
    processes (``spawn``; call it from a script under ``if __name__ == "__main__":``); the
    output is the same for any number of workers.
    """
    config = config or SampleConfig()
    unique_formats: list[Format] = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        if fmt not in unique_formats:
            unique_formats.append(fmt)
    if not unique_formats:
        raise ValueError("give at least one format")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gzip else ""

    def name(dataset: str, fmt: Format) -> str:
        return f"{dataset}.{fmt}{suffix}"

    writers: list[_DatasetWriter] = []
    duplicates = 0
    reasons: Counter[str] = Counter()
    variants: Counter[str] = Counter()
    line_bytes = 0
    try:
        for fmt in unique_formats:
            writers.append(_DatasetWriter(folder / name("events", fmt), fmt, EVENT_FIELDS))
        for chunk in _event_chunks(config, workers):
            for writer in writers:
                writer.add_chunk(chunk)
            line_bytes += sum(map(len, chunk.lines))
            for record in chunk.special.values():
                if record.kind == "duplicate":
                    duplicates += 1
                else:
                    variants[record.variant or ""] += 1
                    reasons[record.expected_reason or ""] += 1
            if progress is not None:
                progress(len(chunk.lines))
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    files = {writer.path.name: writer.close() for writer in writers}
    invalid = sum(reasons.values())
    line_bytes += config.events  # lines are ASCII, plus one newline each

    tables: dict[str, tuple[list[dict[str, Any]], tuple[str, ...]]] = {
        "users": (generate_users(config), USER_FIELDS),
        "user_renames": (generate_user_renames(config), USER_FIELDS),
        "products": (generate_products(config), PRODUCT_FIELDS),
    }
    for dataset, (rows, fields) in tables.items():
        for fmt in unique_formats:
            stats = write_dataset(folder / name(dataset, fmt), rows, fmt, fields=fields)
            files[stats.path.name] = stats

    manifest: dict[str, Any] = {
        "generator": "eventlake.sample_data",
        "manifest_version": MANIFEST_VERSION,
        "config": config.to_dict(),
        "events": {
            "records": config.events,
            "valid": config.events - duplicates - invalid,
            "duplicate": duplicates,
            "invalid": invalid,
            "invalid_by_reason": dict(sorted(reasons.items())),
            "invalid_by_variant": dict(sorted(variants.items())),
            "ndjson_bytes": line_bytes,
            "avg_line_bytes": round(line_bytes / config.events, 2) if config.events else 0.0,
        },
        "users": {"records": config.users},
        "user_renames": {"records": config.renamed_users},
        "products": {"records": config.products},
        "files": {file_name: stats.to_dict() for file_name, stats in files.items()},
    }
    manifest_path = folder / MANIFEST_NAME
    tmp = folder / f".{MANIFEST_NAME}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path)
    return SampleSummary(folder, manifest_path, config, files, manifest)
