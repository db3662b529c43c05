"""``eventlake process`` into the lake and ``eventlake lake inspect|compact|expire``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventlake.cli import app
from eventlake.config import get_settings
from tests.lake.conftest import sample_body
from tests.test_cli import _flat

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("EVENTLAKE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def processed(home: Path, tmp_path: Path, *names: str) -> list[Path]:
    paths = []
    for seed, name in enumerate(names):
        path = tmp_path / name
        path.write_bytes(sample_body(400, seed=seed, days=2))
        paths.append(path)
    result = runner.invoke(app, ["process", *map(str, paths)])
    assert result.exit_code == 0, result.output
    return paths


def test_process_twice_lands_each_file_once(home: Path, tmp_path: Path) -> None:
    (path,) = processed(home, tmp_path, "a.ndjson")
    again = runner.invoke(app, ["process", str(path)])
    assert again.exit_code == 0, again.output
    assert "Already in the lake from an earlier run" in _flat(again.output)
    report = json.loads(runner.invoke(app, ["lake", "inspect", "events", "--json"]).output)
    (events,) = report
    assert len(events["snapshots"]) == 1
    assert list(events["watermark"]) == [f"file:events/a.ndjson@{_hash(path)}"]


def _hash(path: Path) -> str:
    import hashlib

    return hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()


def test_inspect_compact_expire(home: Path, tmp_path: Path) -> None:
    processed(home, tmp_path, "a.ndjson", "b.ndjson", "c.ndjson")
    shown = _flat(runner.invoke(app, ["lake", "inspect"]).output)
    assert "eventlake.events" in shown
    assert "eventlake.events_rejected" in shown
    assert "partitioned by day(event_timestamp)" in shown
    assert "Watermark (highest committed position per key): file:events/a.ndjson@" in shown
    assert "No orphan data files." in shown

    compacted = runner.invoke(app, ["lake", "compact", "events", "--partition", "2026-11-01"])
    assert compacted.exit_code == 0, compacted.output
    assert "2026-11-01 3 1" in _flat(compacted.output)
    nothing = runner.invoke(app, ["lake", "compact", "events", "--partition", "2026-11-01"])
    assert "Nothing to compact" in _flat(nothing.output)

    expired = runner.invoke(app, ["lake", "expire", "events", "--older-than", "0s"])
    assert expired.exit_code == 0, expired.output
    text = _flat(expired.output)
    assert "expired 3 snapshots, kept 1, deleted 3 unreferenced data files" in text
    assert "Watermark kept: file:events/a.ndjson@" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lake", "inspect", "nope"], "no table 'nope'"),
        (["lake", "compact", "../../etc"], "no table '../../etc'"),
        (["lake", "compact", "events", "--partition", "yesterday"], "not a date"),
        (["lake", "expire", "events", "--older-than", "7 days"], "not a duration"),
        (["lake", "expire", "events", "--older-than", "-1d"], "not a duration"),
        (["lake", "expire", "events", "--retain-last", "0"], "retain-last"),
    ],
)
def test_bad_arguments_are_clear_errors(
    home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    processed(home, tmp_path, "a.ndjson")
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in _flat(result.output)
    assert "Traceback" not in result.output


def test_inspect_before_anything_landed(home: Path) -> None:
    result = runner.invoke(app, ["lake", "inspect", "events"])
    assert result.exit_code == 2
    assert "none yet" in _flat(result.output)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EVENTLAKE_LAKE__CATALOG__KIND": "oracle"}, "lake.catalog"),
        ({"EVENTLAKE_LAKE__CATALOG__KIND": "glue"}, "warehouse"),
        (
            {
                "EVENTLAKE_LAKE__CATALOG__KIND": "glue",
                "EVENTLAKE_LAKE__CATALOG__WAREHOUSE": "/local/folder",
            },
            "warehouse",
        ),
        ({"EVENTLAKE_LAKE__NAMESPACE": "../../etc"}, "namespace"),
        ({"EVENTLAKE_LAKE__ZSTD_LEVEL": "99"}, "zstd_level"),
        ({"EVENTLAKE_LAKE__COMMIT_ATTEMPTS": "0"}, "commit_attempts"),
    ],
)
def test_bad_lake_settings_are_clear_errors(
    home: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    result = runner.invoke(app, ["lake", "inspect"])
    assert result.exit_code == 2, result.output
    text = _flat(result.output)
    assert "invalid EVENTLAKE_* settings" in text
    assert message in text
    assert "Traceback" not in result.output
