"""Lake fixtures: a real pyiceberg SQL catalog on SQLite and a local warehouse per test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import data_processor_rs
import pytest

from eventlake.config import Settings
from eventlake.contracts import load_contract
from eventlake.lake import Lake
from eventlake.sample_data import SampleConfig, generate_events

RECEIVED_AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("home"))


@pytest.fixture
def lake(settings: Settings) -> Lake:
    return Lake(settings)


@pytest.fixture(scope="session")
def events_contract() -> data_processor_rs.Contract:
    return load_contract("events")


def sample_body(events: int, seed: int = 7, days: int = 4) -> bytes:
    """Generated NDJSON events over a few days, with duplicates and broken records."""
    config = SampleConfig(events=events, seed=seed, days=days, users=50, products=20)
    return "".join(record.line + "\n" for record in generate_events(config)).encode()


def process(
    body: bytes, contract: data_processor_rs.Contract, job_id: str | None = None
) -> data_processor_rs.TransformedBatch:
    return data_processor_rs.process(
        body,
        contract,
        job_id=job_id or f"job-{uuid.uuid4().hex[:8]}",
        source="tests",
        ingested_at_us=int(RECEIVED_AT.timestamp() * 1_000_000),
    )
