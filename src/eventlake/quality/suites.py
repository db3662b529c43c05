"""What the quality gates expect of the warehouse, as plain data.

One suite per staging and mart table (required columns, types, ranges, allowed values, unique
keys, no timestamps from the future), and two suites over frames computed across tables:
referential integrity of the fact's keys and the fact's row count against the lake.

Nothing here imports Great Expectations (~16 s): :mod:`eventlake.quality.validate` turns each
:class:`Expectation` into a GX expectation of the same type and arguments. Allowed event types
and value ranges come from the data contracts, so a contract change moves the gate with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from eventlake.contracts import ContractSpec, load_contract_spec

SqlType = Literal["VARCHAR", "TIMESTAMP", "DATE", "DOUBLE", "BIGINT", "BOOLEAN"]

# The pandas dtype each declared warehouse type reads as, by the name Great Expectations'
# expect_column_values_to_be_of_type compares with the dtype's scalar type. DATE and TIMESTAMP
# both read as datetime64 (naive, UTC); a TIMESTAMPTZ reads as a tz-aware dtype and fails.
PANDAS_TYPES: dict[SqlType, str] = {
    "VARCHAR": "str",
    "TIMESTAMP": "datetime64",
    "DATE": "datetime64",
    "DOUBLE": "float64",
    "BIGINT": "int64",
    "BOOLEAN": "bool",
}

REFERENCES_SUITE = "checks.referential_integrity"
RECONCILIATION_SUITE = "checks.lake_reconciliation"


@dataclass(frozen=True)
class Expectation:
    """One Great Expectations expectation: its type (snake case) and keyword arguments."""

    type: str
    kwargs: Mapping[str, Any]
    notes: str = ""

    @property
    def column(self) -> str | None:
        if "column" in self.kwargs:
            return str(self.kwargs["column"])
        if "column_A" in self.kwargs:
            return f"{self.kwargs['column_A']} = {self.kwargs['column_B']}"
        return None


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: SqlType
    required: bool = False
    unique: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    not_in_future: bool = False


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    description: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


@dataclass(frozen=True)
class Contracts:
    """The contract facts the gates use: allowed event types and value ranges."""

    event_types: tuple[str, ...]
    event_value: tuple[float | None, float | None]
    price: tuple[float | None, float | None]

    @classmethod
    def load(cls) -> Contracts:
        events, products = load_contract_spec("events"), load_contract_spec("products")
        return cls(
            event_types=_enum(events, "event_type"),
            event_value=_range(events, "event_value"),
            price=_range(products, "price"),
        )


def _enum(spec: ContractSpec, name: str) -> tuple[str, ...]:
    values = spec.field(name).enum
    if not values:
        raise ValueError(f"the {spec.name} contract declares no enum for {name}")
    return values


def _range(spec: ContractSpec, name: str) -> tuple[float | None, float | None]:
    field_spec = spec.field(name)
    return field_spec.min, field_spec.max


def warehouse_tables(contracts: Contracts) -> tuple[Table, ...]:
    """The staging and mart tables dbt builds, with what each column promises."""
    value_min, value_max = contracts.event_value
    price_min, price_max = contracts.price
    event_type = Column("event_type", "VARCHAR", required=True, allowed=contracts.event_types)
    event_value = Column("event_value", "DOUBLE", min=value_min, max=value_max)
    event_timestamp = Column("event_timestamp", "TIMESTAMP", required=True, not_in_future=True)
    price = Column("price", "DOUBLE", min=price_min, max=price_max)
    return (
        Table(
            "staging",
            "stg_events",
            (
                Column("event_id", "VARCHAR", required=True),
                Column("user_id", "VARCHAR", required=True),
                event_type,
                event_timestamp,
                Column("event_date", "DATE", required=True),
                event_value,
                Column("product_id", "VARCHAR"),
                Column("properties", "VARCHAR"),
                Column("job_id", "VARCHAR"),
                Column("source", "VARCHAR"),
                Column("ingested_at", "TIMESTAMP"),
                Column("_lake_sequence", "BIGINT"),
            ),
            "Events as landed in the lake, renamed and cast.",
        ),
        Table(
            "staging",
            "stg_users",
            (
                Column("user_id", "VARCHAR", required=True),
                Column("user_name", "VARCHAR", required=True),
                Column("created_at", "TIMESTAMP", required=True),
                Column("updated_at", "TIMESTAMP", required=True),
                Column("ingested_at", "TIMESTAMP"),
            ),
            "User profile versions.",
        ),
        Table(
            "staging",
            "stg_products",
            (
                Column("product_id", "VARCHAR", required=True),
                Column("product_name", "VARCHAR", required=True),
                Column("category", "VARCHAR", required=True),
                Column("price", "DOUBLE", required=True, min=price_min, max=price_max),
                Column("ingested_at", "TIMESTAMP"),
            ),
            "The product catalogue.",
        ),
        Table(
            "marts",
            "dim_users",
            (
                Column("user_sk", "VARCHAR", required=True, unique=True),
                Column("user_id", "VARCHAR", required=True),
                Column("user_name", "VARCHAR"),
                Column("created_at", "TIMESTAMP"),
                Column("valid_from", "TIMESTAMP", required=True),
                Column("valid_to", "TIMESTAMP"),
                Column("is_current", "BOOLEAN"),
            ),
            "Users, one row per SCD2 version.",
        ),
        Table(
            "marts",
            "dim_products",
            (
                Column("product_sk", "VARCHAR", required=True, unique=True),
                Column("product_id", "VARCHAR"),
                Column("product_name", "VARCHAR"),
                Column("category", "VARCHAR"),
                price,
            ),
            "Products.",
        ),
        Table(
            "marts",
            "fact_events",
            (
                Column("event_sk", "VARCHAR", required=True, unique=True),
                Column("event_id", "VARCHAR"),
                Column("user_sk", "VARCHAR", required=True),
                Column("user_id", "VARCHAR"),
                Column("product_sk", "VARCHAR"),
                Column("product_id", "VARCHAR"),
                event_timestamp,
                Column("event_date", "DATE"),
                Column("event_type", "VARCHAR", allowed=contracts.event_types),
                event_value,
                Column("ingested_at", "TIMESTAMP"),
                Column("_lake_sequence", "BIGINT"),
            ),
            "One row per landed event.",
        ),
    )


def table_suite(table: Table, *, latest_allowed: datetime) -> Suite:
    """The expectations on one table; ``latest_allowed``: now plus the future tolerance (UTC,
    naive, as the warehouse stores timestamps)."""
    expected: list[Expectation] = [
        Expectation(
            "expect_table_columns_to_match_set",
            {"column_set": [c.name for c in table.columns], "exact_match": False},
            "Every declared column exists (more are allowed).",
        )
    ]
    for column in table.columns:
        name = column.name
        if column.required:
            expected.append(
                Expectation("expect_column_values_to_not_be_null", {"column": name}, "Required.")
            )
        expected.append(
            Expectation(
                "expect_column_values_to_be_of_type",
                {"column": name, "type_": PANDAS_TYPES[column.sql_type]},
                f"Declared {column.sql_type}.",
            )
        )
        if column.unique:
            expected.append(
                Expectation("expect_column_values_to_be_unique", {"column": name}, "A key.")
            )
        if column.min is not None or column.max is not None:
            expected.append(
                Expectation(
                    "expect_column_values_to_be_between",
                    {"column": name, "min_value": column.min, "max_value": column.max},
                    "The range the data contract allows.",
                )
            )
        if column.allowed is not None:
            expected.append(
                Expectation(
                    "expect_column_values_to_be_in_set",
                    {"column": name, "value_set": list(column.allowed)},
                    "The enum of the data contract.",
                )
            )
        if column.not_in_future:
            expected.append(
                Expectation(
                    "expect_column_values_to_be_between",
                    {"column": name, "max_value": latest_allowed},
                    "Not in the future beyond the tolerance "
                    "(EVENTLAKE_QUALITY__FUTURE_TOLERANCE_MINUTES).",
                )
            )
    return Suite(table.qualified, table.description, tuple(expected))


def references_suite() -> Suite:
    """Over a frame of fact rows whose ``orphan_*`` columns hold keys missing from a dimension."""
    return Suite(
        REFERENCES_SUITE,
        "Every fact_events.user_sk is in dim_users; every set product_sk is in dim_products.",
        (
            Expectation(
                "expect_column_values_to_be_null",
                {"column": "orphan_user_sk"},
                "fact_events.user_sk values not found in dim_users.user_sk.",
            ),
            Expectation(
                "expect_column_values_to_be_null",
                {"column": "orphan_product_sk"},
                "fact_events.product_sk values (when set) not found in dim_products.product_sk.",
            ),
        ),
    )


def reconciliation_suite() -> Suite:
    """Over a one-row frame: events landed in the lake, rows in the fact table."""
    return Suite(
        RECONCILIATION_SUITE,
        "Every event landed in the lake is one fact row: lake_events (distinct event_id of "
        "the lake's events table) = fact_rows (rows of marts.fact_events).",
        (
            Expectation(
                "expect_column_pair_values_to_be_equal",
                {"column_A": "lake_events", "column_B": "fact_rows"},
                "Landed events = fact rows.",
            ),
        ),
    )


@dataclass(frozen=True)
class SuitePlan:
    """Which suites run, in order, and which tables they read."""

    tables: tuple[Table, ...]
    suites: tuple[Suite, ...]


def plan(latest_allowed: datetime, contracts: Contracts | None = None) -> SuitePlan:
    tables = warehouse_tables(contracts or Contracts.load())
    suites = (
        *(table_suite(t, latest_allowed=latest_allowed) for t in tables),
        references_suite(),
        reconciliation_suite(),
    )
    return SuitePlan(tables, suites)
