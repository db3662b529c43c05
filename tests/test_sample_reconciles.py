"""The generated sample, run through the Rust core, reconciles with its manifest: every valid
record lands, every duplicate is dropped, every broken record is rejected for its stated reason."""

from __future__ import annotations

import collections
from pathlib import Path

import data_processor_rs as rs
import pytest

from eventlake.contracts import load_contract
from eventlake.sample_data import SampleConfig, write_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    directory = tmp_path_factory.mktemp("sample")
    summary = write_sample(
        directory, SampleConfig(events=8_000, seed=11), ("ndjson", "json", "csv")
    )
    return {"directory": directory, "files": summary.manifest["files"]}


@pytest.mark.parametrize("name", ["events.ndjson", "events.json", "events.csv"])
def test_events_reconcile_with_the_manifest(sample: dict[str, object], name: str) -> None:
    expected = sample["files"][name]  # type: ignore[index]
    out = rs.process((Path(sample["directory"]) / name).read_bytes())  # type: ignore[arg-type]
    reasons = collections.Counter(out.rejected.column("reason").to_pylist())
    assert len(out) == expected["valid"]
    assert out.num_duplicates == expected["duplicate"]
    assert dict(reasons) == expected["invalid_by_reason"]
    # (The generator leaves out of a JSON array the records that would swallow its rest.)
    assert out.num_received == expected["records"]


@pytest.mark.parametrize("dataset", ["users", "products", "user_renames"])
def test_reference_datasets_are_valid(sample: dict[str, object], dataset: str) -> None:
    contract = load_contract("users" if dataset == "user_renames" else dataset)
    path = Path(sample["directory"]) / f"{dataset}.ndjson"  # type: ignore[arg-type]
    out = rs.process(path.read_bytes(), contract)
    assert out.num_rejected == 0, out.rejected.to_pylist()[:3]
    assert len(out) == sample["files"][f"{dataset}.ndjson"]["records"]  # type: ignore[index]
