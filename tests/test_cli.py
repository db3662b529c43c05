"""The command line, through typer's CliRunner."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from eventlake.cli import app
from eventlake.config import Settings, get_settings
from eventlake.lake import Lake

runner = CliRunner()


def _flat(text: str) -> str:
    """The output without rich's box drawing and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─┃┏┓┗┛━┡┩└┘┌┐]", " ", text).split())


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_generate_writes_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    args = ["generate", "--events", "800", "--users", "50", "--products", "20", "--seed", "5"]
    result = runner.invoke(app, [*args, "-f", "ndjson", "-f", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {path.name for path in out.iterdir()}
    assert names == {
        f"{dataset}.{fmt}"
        for dataset in ("events", "users", "user_renames", "products")
        for fmt in ("ndjson", "csv")
    } | {"manifest.json"}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["seed"] == 5
    assert manifest["events"] == {**manifest["events"], "records": 800, "duplicate": 16}
    lines = (out / "events.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 800
    flat = _flat(result.output)
    assert "Sample written to" in flat
    assert "events.ndjson 800" in flat
    assert "Manifest:" in flat


def test_generate_is_deterministic_and_gzips(tmp_path: Path) -> None:
    for name, workers in (("a", "1"), ("b", "2")):
        args = ["generate", "--events", "300", "--users", "30", "--workers", workers]
        result = runner.invoke(app, [*args, "-f", "json", "--gzip", "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
    assert (tmp_path / "a" / "events.json.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_generate_defaults_to_eventlake_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("EVENTLAKE_HOME", str(tmp_path / "home"))
    result = runner.invoke(app, ["generate", "--events", "50", "--users", "5", "--products", "3"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "samples" / "manifest.json").is_file()
    assert (tmp_path / "home" / "samples" / "events.ndjson").is_file()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--events", "-5"], "Invalid value for '--events'"),
        (["--events", "many"], "Invalid value for '--events'"),
        (["--users", "0"], "Invalid value for '--users'"),
        (["--duplicates", "1.5"], "Invalid value for '--duplicates'"),
        (["--invalid", "-0.1"], "Invalid value for '--invalid'"),
        (["--duplicates", "0.7", "--invalid", "0.7"], "together they must not exceed 1"),
        (["--format", "xml"], "'xml' is not one of 'ndjson', 'json', 'csv'"),
        (["--start", "yesterday"], "Invalid value for '--start'"),
        (["--renamed-users", "99", "--users", "10"], "cannot exceed --users"),
        (["--days", "0"], "Invalid value for '--days'"),
        (["--seed", "-1"], "Invalid value for '--seed'"),
        (["--workers", "0"], "Invalid value for '--workers'"),
    ],
)
def test_generate_rejects_bad_arguments(tmp_path: Path, args: list[str], expected: str) -> None:
    result = runner.invoke(app, ["generate", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert expected in _flat(result.output)
    assert not (tmp_path / "out").exists()


def test_generate_reports_an_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = runner.invoke(app, ["generate", "--events", "10", "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "Error: cannot write the sample to" in _flat(result.output)


def test_help_and_version() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "generate" in result.output
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("eventlake ")


def test_run_lands_the_sample_in_the_lake_once_however_often_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("EVENTLAKE_HOME", str(home))
    result = runner.invoke(
        app, ["run", "--events", "3000", "--seed", "3", "--no-warehouse", "--files"]
    )
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert "events.ndjson 3,000" in text
    assert "exactly once in the lake" in text
    manifest = json.loads((home / "samples" / "manifest.json").read_text())
    lake = Lake(Settings(home=home))
    events = lake.table("events").scan().to_arrow()
    assert events.num_rows == manifest["files"]["events.ndjson"]["valid"]
    rejected = lake.table("events_rejected").scan().to_arrow()
    assert rejected.num_rows == sum(f["invalid"] for f in manifest["files"].values())
    assert (
        lake.table("users").scan().to_arrow().num_rows == manifest["files"]["users.ndjson"]["valid"]
    )

    again = runner.invoke(
        app, ["run", "--events", "3000", "--seed", "3", "--no-warehouse", "--files"]
    )
    assert again.exit_code == 0, again.output
    assert "Already in the lake from an earlier run" in _flat(again.output)
    assert lake.table("events").scan().to_arrow().num_rows == events.num_rows
    assert lake.table("events_rejected").scan().to_arrow().num_rows == rejected.num_rows


def test_process_reports_reasons_with_file_line_numbers(tmp_path: Path) -> None:
    good = {"event_id": "e", "user_id": "u", "event_type": "login", "event_timestamp": 1}
    lines = [json.dumps(good | {"event_id": f"e{i}"}) for i in range(5)] + ["{broken"]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["process", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "invalid_json" in result.output
    rejected = pq.read_table(out / "events_rejected").to_pylist()
    assert [(r["line"], r["reason"]) for r in rejected] == [(6, "invalid_json")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["process", "/no/such/file.ndjson"], "not a readable file"),
        (["process", "--dataset", "nonsense", "README.md"], "contract"),
    ],
)
def test_process_refuses_bad_arguments_clearly(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in _flat(result.output).lower()
    assert "Traceback" not in result.output


# That every command (sub-apps included) is documented: tests/test_docs.py.


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("EVENTLAKE_MAX_RECORD_BYTES", "lots"),  # malformed
        ("EVENTLAKE_MAX_RECORD_BYTES", str(1 << 40)),  # oversized
        ("EVENTLAKE_DEDUP_WINDOW", "-5"),  # nonsense
    ],
)
def test_bad_settings_are_a_clear_error(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["run", "--events", "10", "--no-warehouse", "--files"])
    assert result.exit_code == 2
    text = _flat(result.output)
    assert "invalid EVENTLAKE_* settings" in text
    assert variable.removeprefix("EVENTLAKE_").lower() in text
    assert "Traceback" not in result.output


def test_settings_reach_the_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    path = tmp_path / "events.ndjson"
    big = {"event_id": "e" * 60, "user_id": "u", "event_type": "login", "event_timestamp": 1}
    path.write_text(json.dumps(big) + "\n")
    monkeypatch.setenv("EVENTLAKE_MAX_RECORD_BYTES", "50")
    result = runner.invoke(app, ["process", str(path)])
    assert result.exit_code == 0, result.output
    assert "too_large" in result.output
