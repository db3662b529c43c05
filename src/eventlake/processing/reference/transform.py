"""Transform: validated rows → the lake's row shape and its Arrow schema (``transform.rs``)."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa

from eventlake.contracts import ContractSpec
from eventlake.processing.reference.batch import TransformedBatch, ValidatedBatch
from eventlake.processing.reference.contract import _normalize_enum
from eventlake.processing.reference.timestamp import MICROS_PER_DAY


def transform_batch(
    batch: ValidatedBatch,
    *,
    job_id: str = "",
    source: str = "",
    ingested_at_us: int | None = None,
) -> TransformedBatch:
    """Normalise enum strings, derive the partition column, append the metadata columns."""
    contract = batch.contract
    if ingested_at_us is None:
        ingested_at_us = time.time_ns() // 1_000
    enum_fields = [
        spec.name for spec in contract.fields if spec.type == "string" and spec.enum is not None
    ]
    partition = contract.partition
    partition_type = None
    if partition is not None:
        partition_type = contract.field(partition.field).type
        if partition_type not in ("timestamp", "date"):
            raise ValueError(f"cannot partition by day on a {partition_type} field")
    rows: list[dict[str, Any]] = []
    for row in batch.rows:
        out = dict(row)
        for name in enum_fields:
            if out[name] is not None:
                out[name] = _normalize_enum(out[name])
        if partition is not None:
            value = out[partition.field]
            if value is not None and partition_type == "timestamp":
                value = value // MICROS_PER_DAY  # the UTC day; floor for times before 1970
            out[partition.column] = value
        out["_job_id"] = job_id
        out["_ingested_at"] = ingested_at_us
        out["_source"] = source
        rows.append(out)
    return TransformedBatch(contract, rows, list(batch.rejected), 0)


_ARROW_TYPES: dict[str, Any] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "json": pa.string(),
}


def arrow_schema(contract: ContractSpec) -> pa.Schema:
    """Contract fields, the partition column, then ``_job_id``, ``_ingested_at``, ``_source``."""
    fields = [
        pa.field(spec.name, _ARROW_TYPES[spec.type], nullable=spec.nullable)
        for spec in contract.fields
    ]
    if contract.partition is not None:
        source = contract.field(contract.partition.field)
        fields.append(pa.field(contract.partition.column, pa.date32(), nullable=source.nullable))
    fields.append(pa.field("_job_id", pa.string(), nullable=False))
    fields.append(pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False))
    fields.append(pa.field("_source", pa.string(), nullable=False))
    return pa.schema(fields)


def to_arrow(batch: TransformedBatch) -> pa.RecordBatch:
    schema = arrow_schema(batch.contract)
    arrays = [
        pa.array([row[field.name] for row in batch.rows], type=field.type) for field in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
