"""Contracts become Iceberg schemas; contract changes become schema evolution, or a refusal.

The lake's columns are the transformed batch's columns (contract fields, the partition date,
ingest metadata). A column is required in Iceberg exactly when the core never writes a null
into it, so the Parquet files Rust writes and the table schema agree on nullability.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    IcebergType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

from eventlake.contracts import ContractSpec
from eventlake.errors import EventlakeError

# Iceberg reserves ids from 1000 for partition fields by convention.
FIRST_PARTITION_FIELD_ID = 1000


class IncompatibleSchemaError(EventlakeError, ValueError):
    """The contract asks for a change the table cannot take without rewriting or losing data."""

    def __init__(self, table: str, problems: list[str]) -> None:
        self.table = table
        self.problems = problems
        listed = "; ".join(problems)
        super().__init__(f"table {table}: incompatible schema change, nothing written: {listed}")


def iceberg_type(arrow_type: pa.DataType) -> IcebergType:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return StringType()
    if pa.types.is_int64(arrow_type):
        return LongType()
    if pa.types.is_float64(arrow_type):
        return DoubleType()
    if pa.types.is_boolean(arrow_type):
        return BooleanType()
    if pa.types.is_date32(arrow_type):
        return DateType()
    if pa.types.is_timestamp(arrow_type) and arrow_type.unit == "us" and arrow_type.tz:
        return TimestamptzType()
    raise TypeError(f"no Iceberg type for Arrow type {arrow_type}")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: IcebergType
    required: bool
    doc: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """What a lake table should look like: its columns and its day partition."""

    name: str
    columns: tuple[ColumnSpec, ...]
    day_partition_source: str | None = None
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def partition_name(self) -> str | None:
        if self.day_partition_source is None:
            return None
        return f"{self.day_partition_source}_day"

    def iceberg_schema(self) -> Schema:
        return Schema(
            *(
                NestedField(i, c.name, c.type, required=c.required, doc=c.doc)
                for i, c in enumerate(self.columns, start=1)
            )
        )

    def partition_spec(self, schema: Schema) -> PartitionSpec:
        if self.day_partition_source is None or self.partition_name is None:
            return PartitionSpec()
        source = schema.find_field(self.day_partition_source)
        return PartitionSpec(
            PartitionField(
                source_id=source.field_id,
                field_id=FIRST_PARTITION_FIELD_ID,
                transform=DayTransform(),
                name=self.partition_name,
            )
        )


def table_spec_from_contract(
    contract: ContractSpec, arrow_schema: pa.Schema, *, table_name: str | None = None
) -> TableSpec:
    """The lake table for a contract, from the core's transformed Arrow schema."""
    docs = {f.name: f.description for f in contract.fields}
    columns = tuple(
        ColumnSpec(f.name, iceberg_type(f.type), required=not f.nullable, doc=docs.get(f.name))
        for f in arrow_schema
    )
    return TableSpec(
        name=table_name or contract.name,
        columns=columns,
        day_partition_source=contract.partition.field if contract.partition else None,
        properties={"eventlake.contract-version": str(contract.version)},
    )


def dead_letter_spec(name: str = "events_rejected") -> TableSpec:
    """The dead-letter table: every rejected record of every dataset, with its reason."""
    return TableSpec(
        name=name,
        columns=(
            ColumnSpec("dataset", StringType(), True, "Dataset the record was sent to."),
            ColumnSpec("job_id", StringType(), True, "Ingest job that received the record."),
            ColumnSpec("received_at", TimestamptzType(), True, "When the record was received."),
            ColumnSpec("source", StringType(), True, "Who or what sent it."),
            ColumnSpec("record_index", LongType(), True, "0-based position in its body."),
            ColumnSpec("line", LongType(), True, "1-based line in its body."),
            ColumnSpec("field", StringType(), False, "The offending field, when there is one."),
            ColumnSpec("reason", StringType(), True, "Stable reason code (docs/processing.md)."),
            ColumnSpec("message", StringType(), True, "Human-readable explanation."),
            ColumnSpec("raw", StringType(), True, "The record as received (capped at 64 KiB)."),
        ),
        day_partition_source="received_at",
    )


def plan_evolution(table: Table, spec: TableSpec) -> list[ColumnSpec]:
    """Check a contract against its table; return the optional columns to add.

    Allowed in place: a new nullable column (old rows read it as null), and a column the
    contract dropped (kept, null from now on; relaxed to optional if it was required).
    Refused before anything is written: a type change, a new required column, a nullable
    column made required.
    """
    current = {f.name: f for f in table.schema().fields}
    problems: list[str] = []
    additions: list[ColumnSpec] = []
    for column in spec.columns:
        existing = current.get(column.name)
        if existing is None:
            if column.required:
                problems.append(
                    f"new column {column.name!r} is required; old rows have no value for it "
                    "(add it as nullable)"
                )
            else:
                additions.append(column)
            continue
        if existing.field_type != column.type:
            problems.append(
                f"column {column.name!r} changes type from {existing.field_type} to {column.type}"
            )
        elif column.required and not existing.required:
            problems.append(f"column {column.name!r} becomes required; old rows may hold nulls")
    if problems:
        raise IncompatibleSchemaError(spec.name, problems)
    return additions


def evolve(table: Table, spec: TableSpec) -> bool:
    """Bring the table's schema to the contract's; True when it changed."""
    additions = plan_evolution(table, spec)
    wanted = {c.name for c in spec.columns}
    relax = [f.name for f in table.schema().fields if f.name not in wanted and f.required]
    if not additions and not relax:
        return False
    with table.update_schema() as update:
        for column in additions:
            update.add_column(column.name, column.type, doc=column.doc, required=False)
        for name in relax:
            update.update_column(name, required=False)
    return True


def field_ids(table: Table) -> dict[str, int]:
    return {f.name: f.field_id for f in table.schema().fields}
