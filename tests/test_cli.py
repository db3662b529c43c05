"""The command line, through typer's CliRunner."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventlake.cli import app
from eventlake.config import get_settings

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
