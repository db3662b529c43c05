"""API keys rotated without a restart, from a real HTTP client: the keys file
(EVENTLAKE_API_KEYS_FILE) is read again when it changes, so a new key works and a revoked one
is refused within seconds, while a bad edit keeps the keys last read."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from eventlake import api_keys
from eventlake.config import Settings
from tests.api.conftest import event

URL = "/api/v1/ingest?dataset=events"


def write(path: Path, text: str) -> None:
    """As a secret store or `kubectl` swaps a mounted secret: a new file renamed over it."""
    staged = path.with_suffix(".new")
    staged.write_text(text)
    os.replace(staged, path)


def status(client: httpx.Client, secret: str) -> int:
    answer = client.post(
        URL,
        content=json.dumps([event(f"e-{time.monotonic_ns()}")]).encode(),
        headers={"X-API-Key": secret, "Content-Type": "application/json"},
    )
    return answer.status_code


def until(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _look_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_keys, "KEYS_FILE_CHECK_SECONDS", 0.1)


def test_a_key_is_rotated_without_a_restart(
    serve: Callable[[Settings], httpx.Client], tmp_path: Path
) -> None:
    keys = tmp_path / "api_keys"
    write(keys, "# the ingest clients\nalice:old-secret\n")
    client = serve(Settings(api_keys="ops:ops-secret", api_keys_file=keys))
    assert status(client, "old-secret") == 202
    assert status(client, "ops-secret") == 202  # EVENTLAKE_API_KEYS' keys stay beside the file's
    assert status(client, "new-secret") == 401

    write(keys, "alice:old-secret\nalice:new-secret\n")  # the new key first, for the move
    until(lambda: status(client, "new-secret") == 202, "the new key is accepted")
    assert status(client, "old-secret") == 202

    write(keys, "alice:new-secret\n")  # then the old one revoked
    until(lambda: status(client, "old-secret") == 401, "the old key is refused")
    assert status(client, "new-secret") == 202
    assert status(client, "ops-secret") == 202


@pytest.mark.parametrize(
    "bad", ["alice:\n", "not a name!:secret\n", "# nothing but a comment\n", None]
)
def test_a_bad_edit_keeps_the_keys_last_read(
    serve: Callable[[Settings], httpx.Client],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    bad: str | None,
) -> None:
    keys = tmp_path / "api_keys"
    write(keys, "alice:alice-secret\n")
    client = serve(Settings(api_keys_file=keys))
    assert status(client, "alice-secret") == 202
    caplog.set_level(logging.ERROR, logger="eventlake.api_keys")
    if bad is None:
        keys.unlink()  # gone: a broken mount
    else:
        write(keys, bad)

    # A request looks at the file (every 0.1 s here): each one meets the bad edit.
    def logged() -> bool:
        return status(client, "alice-secret") == 202 and "keeping the keys last" in caplog.text

    until(logged, "the bad edit is logged")
    assert status(client, "alice-secret") == 202  # nobody is locked out
    assert "alice-secret" not in caplog.text  # nor is a secret logged

    write(keys, "alice:alice-secret\nbob:bob-secret\n")  # fixed: read again
    until(lambda: status(client, "bob-secret") == 202, "the fixed file is read")


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "No such file"), ("alice:\n", "empty secret"), ("\n# none\n", "holds no key")],
)
def test_serve_refuses_to_start_on_a_bad_keys_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    keys = tmp_path / "api_keys"
    if content is not None:
        keys.write_text(content)
    run = subprocess.run(
        [sys.executable, "-m", "eventlake.cli", "serve", "--port", "1"],
        env={**os.environ, "EVENTLAKE_HOME": str(tmp_path), "EVENTLAKE_API_KEYS_FILE": str(keys)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "invalid EVENTLAKE_API_KEYS_FILE" in run.stdout + run.stderr
    assert message in run.stdout + run.stderr
