"""Writing records to one file as NDJSON, a JSON array or CSV (optionally gzipped), counting
what a correct pipeline must make of them."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import queue
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eventlake.sample_data.events import _Chunk, _dumps_utf8, _new_record
from eventlake.sample_data.model import (
    _CSV_RAGGED,
    EVENT_FIELDS,
    FORMATS,
    FileStats,
    Format,
    GeneratedRecord,
)


def _format_for(path: Path) -> Format:
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    formats: dict[str, Format] = {
        ".ndjson": "ndjson",
        ".jsonl": "ndjson",
        ".json": "json",
        ".csv": "csv",
    }
    if suffix not in formats:
        raise ValueError(
            f"cannot tell the format of {path.name!r}: give format= (one of {', '.join(FORMATS)})"
        )
    return formats[suffix]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _dumps_utf8(value)


# A valid line as _generate_block writes it (keys in contract order, compact, nulls optional).
_EVENT_LINE = re.compile(
    r'\{"event_id":"([0-9a-f-]+)","user_id":"(u_[0-9]+)","event_type":"([a-z_]+)"'
    r',"event_timestamp":"?([0-9T:.Z+-]+)"?'
    r'(?:,"event_value":(?:null|([0-9.]+)))?(?:,"product_id":(?:null|"(p_[0-9]+)"))?'
    r',"properties":(\{[^\n]*\})\}'
)


class _ListSink:
    """A write()-able that collects text, for csv.writer."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.write = self.parts.append


class _DatasetWriter:
    """Streams records to one file (atomically: a temporary name, renamed on close).

    Records are joined and encoded in the caller's thread; hashing, compressing and writing
    (which release the GIL) happen in a background thread, in order.
    """

    _FLUSH_AT = 4096

    def __init__(self, path: Path, format: Format, fields: Sequence[str]) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
        self.path = path
        self.format = format
        self.fields = tuple(fields)
        self.gzip = path.name.lower().endswith(".gz")
        self.tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.raw = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self.out: io.BufferedIOBase = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, mtime=0, compresslevel=3)
            if self.gzip
            else self.raw
        )
        self.hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_out, name=f"write {path.name}")
        self._thread.start()
        self.uncompressed = 0
        self.records = 0
        self.valid = 0
        self.duplicate = 0
        self.reasons: Counter[str] = Counter()
        self.skipped = 0
        # ndjson/json: record texts, joined on flush; csv: the csv writer's output
        sink = _ListSink()
        self.parts = sink.parts
        self.csv = csv.writer(sink, lineterminator="\n")
        if format == "csv":
            self.csv.writerow(self.fields)
            self._flush()

    def add(self, record: GeneratedRecord | Mapping[str, Any]) -> None:
        if isinstance(record, GeneratedRecord):
            kind = record.kind
            if kind == "valid":
                self.valid += 1
            elif kind == "duplicate":
                self.duplicate += 1
            else:
                return self._add_invalid(record)
            if self.format == "csv":
                self._add_event_row(record.line)
            else:
                self.parts.append(record.line)
        else:
            self.valid += 1
            if self.format == "csv":
                self._add_row(record)
            else:
                self.parts.append(_dumps_utf8(record))
        self.records += 1
        if len(self.parts) >= self._FLUSH_AT:
            self._flush()

    def add_chunk(self, chunk: _Chunk) -> None:
        """Add a chunk of the event stream (fast path: the lines are written as they are)."""
        lines, special = chunk
        if self.format == "csv" or (
            self.format == "json"
            and any(record.expected_reason == "invalid_json" for record in special.values())
        ):
            for index, line in enumerate(lines):
                record = special.get(index)
                if record is None:
                    record = _new_record(GeneratedRecord, (line, "valid", None, None, None))
                self.add(record)
            return
        self.parts.extend(lines)
        self.records += len(lines)
        self.valid += len(lines) - len(special)
        for record in special.values():
            if record.kind == "duplicate":
                self.duplicate += 1
            else:
                self.reasons[record.expected_reason or ""] += 1
        if len(self.parts) >= self._FLUSH_AT:
            self._flush()

    def _add_invalid(self, record: GeneratedRecord) -> None:
        expected = record.expected_for(self.format)
        if expected is None:
            self.skipped += 1
            return
        _, reason, _ = expected
        if reason is None:
            self.valid += 1  # e.g. a number sent as a string is fine in CSV
        else:
            self.reasons[reason] += 1
        if self.format != "csv":
            self.parts.append(record.line)
        elif record.variant in _CSV_RAGGED:
            self.csv.writerow((record.line,))
        else:
            self._add_row(record.parse())
        self.records += 1

    def _add_event_row(self, line: str) -> None:
        """A valid event line as a CSV row. Fast path for the lines this module builds: their
        values hold no comma, quote or newline, so only properties (JSON text) needs quoting."""
        match = _EVENT_LINE.fullmatch(line) if self.fields == EVENT_FIELDS else None
        if match is None:
            self._add_row(json.loads(line))
            return
        event_id, user_id, event_type, timestamp, value, product_id, properties = match.groups()
        self.parts.append(
            f"{event_id},{user_id},{event_type},{timestamp},{value or ''},{product_id or ''},"
            f'"{properties.replace(chr(34), chr(34) * 2)}"\n'
        )

    def _add_row(self, value: Mapping[str, Any]) -> None:
        self.csv.writerow([_csv_cell(value.get(name)) for name in self.fields])

    def _flush(self, last: bool = False) -> None:
        parts = self.parts
        if self.format == "ndjson":
            text = "\n".join(parts) + "\n" if parts else ""
        elif self.format == "json":
            first = self.uncompressed == 0
            text = ("[\n" if first else ",\n") + ",\n".join(parts) if parts else ""
            if last:
                text += "[]\n" if self.records == 0 else "\n]\n"
        else:
            text = "".join(parts)
        parts.clear()
        if text:
            data = text.encode("utf-8")
            self.uncompressed += len(data)
            if self._error is not None:
                raise self._error
            self._queue.put(data)

    def _write_out(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.hash.update(data)
                    self.out.write(data)
                except BaseException as exc:  # reported to the caller's thread
                    self._error = exc

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()
        try:
            if self.out is not self.raw:
                self.out.close()
        finally:
            self.raw.close()

    def close(self) -> FileStats:
        try:
            self._flush(last=True)
        finally:
            self._stop()
        if self._error is not None:
            self.tmp.unlink(missing_ok=True)
            raise self._error
        os.replace(self.tmp, self.path)
        return FileStats(
            path=self.path,
            format=self.format,
            gzip=self.gzip,
            records=self.records,
            valid=self.valid,
            duplicate=self.duplicate,
            invalid=sum(self.reasons.values()),
            skipped=self.skipped,
            invalid_by_reason=dict(sorted(self.reasons.items())),
            bytes=self.path.stat().st_size,
            uncompressed_bytes=self.uncompressed,
            sha256=self.hash.hexdigest(),
        )

    def abort(self) -> None:
        try:
            self._stop()
        except OSError:
            pass  # the error that made us abort matters more
        finally:
            self.tmp.unlink(missing_ok=True)


def write_dataset(
    path: str | os.PathLike[str],
    records: Iterable[GeneratedRecord | Mapping[str, Any]],
    format: Format | None = None,
    *,
    fields: Sequence[str] = EVENT_FIELDS,
) -> FileStats:
    """Write ``records`` to ``path`` as ``ndjson``, ``json`` (one array) or ``csv``.

    ``format=None`` infers it from the name (``.ndjson``/``.jsonl``, ``.json``, ``.csv``). A name
    ending in ``.gz`` is gzipped (deterministically: no name or time in the header). Records are
    :class:`GeneratedRecord` (events) or plain mappings (users, products). CSV has a header of
    ``fields`` (the contract's field order), JSON values of nested fields as JSON text, and
    empty cells for nulls. The file appears under its name only once complete.
    """
    target = Path(path)
    writer = _DatasetWriter(target, format or _format_for(target), fields)
    try:
        for record in records:
            writer.add(record)
    except BaseException:
        writer.abort()
        raise
    return writer.close()
