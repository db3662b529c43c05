"""Data contracts as Python objects.

The YAML files in ``resources/contracts/`` are parsed and checked by the Rust core (one loader,
one set of rules, errors that name the file and the field); this module mirrors the normalised
result as typed, frozen pydantic models for the Python side (the reference implementation, and
the API, lake and warehouse layers).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import data_processor_rs
from pydantic import BaseModel, ConfigDict

from eventlake.config import get_settings

FieldType = Literal["string", "int", "float", "bool", "timestamp", "date", "json"]
DATASETS = ("events", "users", "products")


class FieldSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: FieldType
    required: bool
    nullable: bool
    description: str
    enum: tuple[str, ...] | None
    min: float | None
    max: float | None
    min_length: int | None
    max_length: int | None


class PartitionSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    granularity: Literal["day"]
    column: str


class ContractSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int
    description: str
    dedup_key: tuple[str, ...]
    extra_fields: Literal["ignore", "reject"]
    partition: PartitionSpec | None
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    @classmethod
    def from_rust(cls, contract: data_processor_rs.Contract) -> ContractSpec:
        return cls.model_validate_json(contract.to_json())


def contract_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A dataset name (``events``) resolves in the contracts folder; anything else is a path."""
    text = os.fspath(name_or_path)
    if text in DATASETS or (text.isidentifier() and not text.endswith((".yaml", ".yml"))):
        return get_settings().contracts_dir / f"{text}.yaml"
    return Path(text)


@lru_cache(maxsize=64)
def _load_cached(path: Path, mtime_ns: int) -> data_processor_rs.Contract:
    return data_processor_rs.Contract.from_file(path)


def load_contract(name_or_path: str | os.PathLike[str]) -> data_processor_rs.Contract:
    """Load and check a contract; a ``data_processor_rs.ContractError`` names file and field."""
    path = contract_path(name_or_path)
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        mtime_ns = -1  # the Rust loader raises a ContractError naming the path
    return _load_cached(path.resolve(), mtime_ns)


def load_contract_spec(name_or_path: str | os.PathLike[str]) -> ContractSpec:
    return ContractSpec.from_rust(load_contract(name_or_path))
