"""The pipeline's steps as plain functions; :mod:`eventlake.pipeline.pipelines` says which
make each pipeline and DAG, and :mod:`eventlake.pipeline.runs` runs and records them.

Each takes the settings (or reads them from the environment), does one step, and returns a
JSON-ready summary (an Airflow XCom); a step that fails raises, so the run fails there. None
records itself: whoever runs it does, through the one recorded-run wrapper. Heavy imports stay
inside the functions: the API and a DAG's task import this module and must start fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventlake.config import Settings, get_settings

if TYPE_CHECKING:
    from eventlake.pipeline.process_files import FileReport

# dbt's progress: for each command, the callback its nodes report to (see dbt_runner).
DbtProgress = Callable[[str], Callable[[str, int, int], None]]

log = logging.getLogger(__name__)

# Landing files: <landing>/<dataset>/<name> or <landing>/<dataset>*.<ext>, any supported format.
LANDING_FORMATS = {
    ".ndjson": "application/x-ndjson",
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
    ".csv": "text/csv",
}
LANDING_SOURCE = "landing"
DONE_DIR = "_done"
REJECTED_DIR = "_rejected"


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else get_settings()


# --- ingest_data ----------------------------------------------------------------------------


@dataclass
class LandingFile:
    relative: str  # the path under the landing folder or prefix, with "/"
    dataset: str
    content_type: str  # "" when the format is not supported
    gzipped: bool

    @property
    def name(self) -> str:
        return self.relative.rsplit("/", 1)[-1]


def classify(relative: str, datasets: list[str]) -> LandingFile | None:
    """What a landing file is, from its path: None for files to leave alone (`_done/`,
    `_rejected/`, dot-files still being written)."""
    parts = relative.split("/")
    name = parts[-1]
    if parts[0] in (DONE_DIR, REJECTED_DIR) or name.startswith(".") or not name:
        return None
    gzipped = name.endswith(".gz")
    suffix = Path(name.removesuffix(".gz")).suffix.lower()
    dataset = parts[0] if len(parts) > 1 else next((d for d in datasets if name.startswith(d)), "")
    return LandingFile(relative, dataset, LANDING_FORMATS.get(suffix, ""), gzipped)


class LocalLanding:
    """A folder: files are moved to `_done/DATE/...` or `_rejected/DATE/...` when handled."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    def files(self, datasets: list[str]) -> list[LandingFile]:
        if not self.root.is_dir():
            return []
        paths = [p for p in self.root.rglob("*") if p.is_file()]
        paths.sort(key=lambda p: (p.stat().st_mtime_ns, str(p)))  # oldest first
        found = (classify(p.relative_to(self.root).as_posix(), datasets) for p in paths)
        return [f for f in found if f is not None]

    def read(self, file: LandingFile) -> bytes:
        return (self.root / file.relative).read_bytes()

    def move(self, file: LandingFile, folder: str, reason: str | None = None) -> str:
        target = self.root / folder / time.strftime("%Y%m%d") / file.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.root / file.relative), target)
        if reason is not None:
            target.with_name(target.name + ".reason.txt").write_text(reason + "\n")
        return str(target)


class S3Landing:
    """An S3 prefix (`s3://bucket/prefix`): objects are copied under `_done/` or `_rejected/`
    in the same prefix, then deleted."""

    def __init__(self, uri: str, endpoint_url: str | None) -> None:
        import boto3  # type: ignore[import-untyped]

        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.where = uri
        self.client = boto3.client("s3", endpoint_url=endpoint_url)

    def files(self, datasets: list[str]) -> list[LandingFile]:
        objects = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            objects += page.get("Contents", [])
        objects.sort(key=lambda o: (o["LastModified"], o["Key"]))
        found = (classify(o["Key"][len(self.prefix) :], datasets) for o in objects)
        return [f for f in found if f is not None]

    def read(self, file: LandingFile) -> bytes:
        answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + file.relative)
        body: bytes = answer["Body"].read()
        return body

    def move(self, file: LandingFile, folder: str, reason: str | None = None) -> str:
        source = self.prefix + file.relative
        target = f"{self.prefix}{folder}/{time.strftime('%Y%m%d')}/{file.relative}"
        self.client.copy_object(
            Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}
        )
        if reason is not None:
            self.client.put_object(
                Bucket=self.bucket, Key=target + ".reason.txt", Body=(reason + "\n").encode()
            )
        self.client.delete_object(Bucket=self.bucket, Key=source)
        return f"s3://{self.bucket}/{target}"


@dataclass
class AnswerTally:
    """Ingest answers summed: the API's (``make run``) or the Ingestor's (``ingest_data``)."""

    requests: int = 0
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    jobs: list[str] = field(default_factory=list)

    def add(self, answer: Mapping[str, Any]) -> None:
        self.requests += 1
        self.received += int(answer.get("received", 0))
        self.accepted += int(answer.get("accepted", 0))
        self.rejected += int(answer.get("rejected", 0))
        if "job_id" in answer:
            self.jobs.append(str(answer["job_id"]))


@dataclass
class IngestSummary(AnswerTally):
    """What ``ingest_data`` did: the answers, and the landing files read and refused."""

    files: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "requests": self.requests,
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "jobs": self.jobs,
            "refused": self.refused,
        }


def landing_dir(settings: Settings) -> Path:
    return settings.landing_dir or settings.home / "landing"


def open_landing(settings: Settings) -> LocalLanding | S3Landing:
    if settings.landing_uri is not None:
        return S3Landing(settings.landing_uri, settings.landing_endpoint_url)
    return LocalLanding(landing_dir(settings))


def _chunks(body: bytes, content_type: str, limit: int) -> Iterator[bytes]:
    """Line-aligned pieces of at most ``limit`` bytes (CSV pieces repeat the header), so a file
    larger than the API's body limit goes through the same path in several requests."""
    if len(body) <= limit:
        yield body
        return
    if content_type == "application/json":
        raise ValueError(
            f"a JSON document larger than {limit} bytes cannot be split; send NDJSON or CSV"
        )
    header = b""
    lines = body.splitlines(keepends=True)
    if content_type == "text/csv" and lines:
        header, lines = lines[0], lines[1:]
    piece: list[bytes] = []
    size = len(header)
    for line in lines:
        if len(header) + len(line) > limit:
            raise ValueError(f"a line of {len(line)} bytes is over the {limit}-byte body limit")
        if size + len(line) > limit and piece:
            yield header + b"".join(piece)
            piece, size = [], len(header)
        piece.append(line)
        size += len(line)
    if piece:
        yield header + b"".join(piece)


def ingest_data(settings: Settings | None = None) -> dict[str, Any]:
    """Publish the files waiting in the landing folder through the API's own path (the same
    contract checks, stream and job records), then move each to `_done/` (or `_rejected/`
    with the reason). Each piece carries an idempotency key made from the file's content, so
    a retry after a crash publishes nothing twice."""
    import gzip

    from eventlake.ingest import IngestError, Ingestor, NoValidRecordsError
    from eventlake.state import StateStore

    settings = _settings(settings)
    landing = open_landing(settings)
    summary = IngestSummary()
    state = StateStore(settings.state_database_url)
    ingestor = Ingestor(settings, state)
    try:
        for file in landing.files(ingestor.datasets):
            summary.files += 1
            if not file.content_type or file.dataset not in ingestor.datasets:
                reason = (
                    f"unknown dataset {file.dataset!r}"
                    if file.content_type
                    else "not a supported format (.ndjson, .jsonl, .json, .csv, optionally .gz)"
                )
                _refuse(summary, file, landing, reason)
                continue
            raw = landing.read(file)
            try:
                body = gzip.decompress(raw) if file.gzipped else raw
                digest = hashlib.sha256(raw).hexdigest()[:32]
                pieces = list(_chunks(body, file.content_type, settings.api.max_body_bytes))
            except (OSError, EOFError, ValueError) as error:
                _refuse(summary, file, landing, str(error))
                continue
            all_rejected = 0
            for index, piece in enumerate(pieces):
                key = f"landing-{digest}-{index}"
                try:
                    answer = ingestor.accept(
                        piece,
                        dataset=file.dataset,
                        content_type=file.content_type,
                        content_encoding=None,
                        source=LANDING_SOURCE,
                        idempotency_key=key,
                    )
                except NoValidRecordsError:
                    # The API answers 422 and publishes nothing: its client keeps the body.
                    # Here eventlake holds the only copy, so the records go to the
                    # dead-letter table with their reasons, once (keyed by content).
                    all_rejected += 1
                    report = _dead_letter_piece(settings, file, index, piece)
                    summary.received += report.received
                    summary.rejected += report.rejected
                    continue
                except IngestError as error:
                    # A down stream or state database is transient: the file stays, the task
                    # fails and its retry sends the same pieces under the same keys.
                    raise RuntimeError(f"{file.relative}: {error}") from error
                summary.add(answer.body)
            if all_rejected == len(pieces):
                reason = "no valid record; every record is in the dead-letter table"
                _refuse(summary, file, landing, reason)
            else:
                landing.move(file, DONE_DIR)
    finally:
        ingestor.close()
        state.close()
    log.info(
        "ingest_data: %d files, %d accepted, %d rejected",
        summary.files,
        summary.accepted,
        summary.rejected,
    )
    return summary.to_dict()


def _dead_letter_piece(
    settings: Settings, file: LandingFile, index: int, piece: bytes
) -> FileReport:
    from eventlake.contracts import load_contract
    from eventlake.lake import Lake
    from eventlake.pipeline.process_files import process_file

    suffix = {v: k for k, v in LANDING_FORMATS.items()}[file.content_type]
    name = f"{file.name.removesuffix('.gz')}.piece-{index}{suffix}"
    copy = settings.home / "landing_pieces" / file.dataset / name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(piece)
    report = process_file(
        copy,
        load_contract(file.dataset),
        lake=Lake(settings),
        job_id=f"landing-{copy.stem}",
        source=LANDING_SOURCE,
        max_record_bytes=settings.max_record_bytes,
    )
    copy.unlink()  # committed: its records are in the dead-letter table (the file is kept)
    return report


def _refuse(
    summary: IngestSummary, file: LandingFile, landing: LocalLanding | S3Landing, reason: str
) -> None:
    moved = landing.move(file, REJECTED_DIR, reason)
    summary.refused.append({"file": file.relative, "reason": reason})
    log.warning("ingest_data: %s refused (%s), kept in %s", file.relative, reason, moved)


# --- process_with_rust, catalog_data ---------------------------------------------------------


def process_with_rust(settings: Settings | None = None) -> dict[str, Any]:
    """Drain every stream into the lake through the Rust core, exactly once."""
    from eventlake.consumer import drain

    return drain(_settings(settings)).to_dict()


def catalog_data(settings: Settings | None = None) -> dict[str, Any]:
    """Make the new snapshots queryable: report each table's current snapshot from the catalog
    (on Glue, the table Athena reads is updated by the commit itself) and refresh the
    warehouse's `lake.*` views to those snapshots.

    dbt's plugin refreshes the same views again when each dbt command starts (dbt also runs
    without this task); this refresh is what lets anyone querying DuckDB's `lake.*` see the
    new data as soon as it is committed, before the next transform."""
    import duckdb

    from eventlake.lake import Lake
    from eventlake.warehouse.dbt_runner import warehouse_lock
    from eventlake.warehouse.lake_views import refresh_lake_views

    settings = _settings(settings)
    lake = Lake(settings)
    tables: dict[str, Any] = {}
    for name in lake.table_names():
        table = lake.table(name)
        snapshot = table.current_snapshot()
        summary = snapshot.summary if snapshot is not None else None
        tables[name] = {
            # What the catalog (on AWS, the Glue table Athena and Snowflake read) points at.
            "metadata_location": table.metadata_location,
            "snapshot_id": str(snapshot.snapshot_id) if snapshot else None,
            "rows": int(summary.get("total-records") or 0) if summary else 0,
            "files": int(summary.get("total-data-files") or 0) if summary else 0,
        }
    if settings.warehouse.target == "local":
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        with warehouse_lock(settings), duckdb.connect(str(settings.duckdb_path)) as connection:
            refresh_lake_views(connection, settings)
    return {"tables": tables}


# --- compact_lake ------------------------------------------------------------------------------


def compact_lake(settings: Settings | None = None) -> dict[str, Any]:
    """Rewrite each table's small files into one file per day partition (``eventlake lake
    compact`` on every table, with its defaults). Each consumer's commit adds a file per
    partition it touches, so several consumers add them several times as fast; readers slow
    down with the count. Consumers keep committing meanwhile: a compaction that loses a race
    to one of them is retried, and the exactly-once watermark is carried forward."""
    from eventlake.lake import Lake
    from eventlake.lake.maintenance import compact

    lake = Lake(_settings(settings))
    tables: dict[str, Any] = {}
    for name in lake.table_names():
        report = compact(lake, name)
        tables[name] = {
            "snapshot_id": str(report.snapshot_id) if report.snapshot_id is not None else None,
            "partitions": len(report.partitions),
            "files_removed": report.files_removed,
        }
    return {"tables": tables}


# --- dbt ---------------------------------------------------------------------------------------


def run_dbt(
    settings: Settings | None = None, *, progress: DbtProgress | None = None
) -> dict[str, Any]:
    """`eventlake transform`: dbt build (seeds, snapshots, models, tests), then the docs; a
    failed model or test raises ``RunFailedError`` with dbt's results. ``progress``: a bar per
    dbt command (the CLI's)."""
    from eventlake.warehouse.dbt_runner import transform_pipeline

    return transform_pipeline(_settings(settings), progress=progress)


def _dbt_step(settings: Settings | None, *commands: tuple[str, ...]) -> dict[str, Any]:
    from eventlake.errors import RunFailedError
    from eventlake.warehouse.dbt_runner import TransformReport, describe_failure, transform

    settings = _settings(settings)
    report: TransformReport = transform(settings, steps=commands)
    summary = report.summary()
    if not report.ok:
        raise RunFailedError(describe_failure(report), summary)
    return summary


def dbt_seed(settings: Settings | None = None) -> dict[str, Any]:
    return _dbt_step(settings, ("seed",))


def dbt_run(settings: Settings | None = None) -> dict[str, Any]:
    """The users snapshot and the models, in dependency order (dim_users is built from the
    snapshot), in one dbt process: `dbt run` alone skips snapshots, and a `dbt snapshot` before
    it would pay dbt's start-up twice. No seeds and no tests: those are the tasks either side."""
    return _dbt_step(settings, ("build", "--resource-type", "snapshot", "--resource-type", "model"))


def dbt_test(settings: Settings | None = None) -> dict[str, Any]:
    return _dbt_step(settings, ("test",))


def dbt_docs_generate(settings: Settings | None = None) -> dict[str, Any]:
    return _dbt_step(settings, ("docs", "generate"))


# --- quality, dashboard ------------------------------------------------------------------------


def quality_checks(settings: Settings | None = None) -> dict[str, Any]:
    """The Great Expectations gates; a failed gate raises ``RunFailedError`` with the failed
    expectations (and has alerted)."""
    from eventlake.quality import quality_gate

    return dict(quality_gate(_settings(settings)))


def update_dashboard(settings: Settings | None = None) -> dict[str, Any]:
    """Tell the dashboard the warehouse changed: it keys its caches on this file."""
    settings = _settings(settings)
    marker = dashboard_marker(settings)
    marker.parent.mkdir(parents=True, exist_ok=True)
    refreshed = {"refreshed_at": time.time()}
    temporary = marker.with_name(marker.name + ".tmp")
    temporary.write_text(json.dumps(refreshed))
    temporary.replace(marker)
    return {"marker": str(marker), **refreshed}


def dashboard_marker(settings: Settings) -> Path:
    return settings.reports_dir / "dashboard" / "refreshed.json"
