"""Contracts for the processing tests, loaded by the real loader (the Rust core's)."""

from __future__ import annotations

import json
from typing import Any

import data_processor_rs
import pytest

from eventlake.contracts import ContractSpec, load_contract


def make_rust_contract(*fields: dict[str, Any], **top: Any) -> data_processor_rs.Contract:
    """A small contract from field dicts. JSON is YAML, so the real loader reads it as is."""
    document = {"name": "test", **top, "fields": list(fields)}
    return data_processor_rs.Contract.from_yaml(json.dumps(document), "<test contract>")


def make_contract(*fields: dict[str, Any], **top: Any) -> ContractSpec:
    """``make_contract({"name": "n", "type": "int", "required": True, "nullable": False})``."""
    return ContractSpec.from_rust(make_rust_contract(*fields, **top))


@pytest.fixture(scope="session")
def events_contract() -> ContractSpec:
    return ContractSpec.from_rust(load_contract("events"))


@pytest.fixture(scope="session")
def users_contract() -> ContractSpec:
    return ContractSpec.from_rust(load_contract("users"))


@pytest.fixture(scope="session")
def products_contract() -> ContractSpec:
    return ContractSpec.from_rust(load_contract("products"))


@pytest.fixture(name="make_contract", scope="session")
def make_contract_fixture() -> Any:
    """The ``make_contract`` helper, as a fixture (test modules need not import conftest)."""
    return make_contract
