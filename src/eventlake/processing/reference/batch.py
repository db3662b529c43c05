"""The batches that pass between the steps after parsing: validated rows and transformed rows,
each with every rejection so far (``batch.rs``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventlake.contracts import ContractSpec
from eventlake.processing.reference.rejection import Rejection


@dataclass
class ValidatedBatch:
    """Typed rows (str, int, float, bool, timestamp as int µs UTC, date as int days since
    1970-01-01, json as JSON text, None for null), in input order; rejections by index."""

    contract: ContractSpec
    rows: list[dict[str, Any]]
    rejected: list[Rejection]


@dataclass
class TransformedBatch:
    contract: ContractSpec
    rows: list[dict[str, Any]]
    rejected: list[Rejection]
    num_duplicates: int = 0
