"""What the disk-full tests share (issue 18, "Faults": the disk fills up): a small tmpfs that a
test fills to its last byte and frees again, the API and the consumer as processes, polling
with a deadline, and the lake's event ids (the judge of exactly once).

The disk is a tmpfs of 24 MiB mounted over an empty folder for one test and unmounted after it.
Mounting needs root: the tests run as root here, and through passwordless sudo as GitHub's
runner user (CI); without either the test fails saying so, rather than skipping: a skipped
fault test would look like a passing one."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pyiceberg.exceptions import NoSuchTableError

from eventlake.config import Settings
from eventlake.lake import Lake
from eventlake.pipeline.supervisor import wait_for_api
from tests.ports import free_port

EVENTLAKE = [sys.executable, "-m", "eventlake.cli"]
SIZE = "24m"
API_KEY = "disk-full-test-key-0123456789abcdef"
# Short leases, batches and retries: a consumer notices and recovers within a second or two.
CONSUMER_ENV = {
    "EVENTLAKE_CONSUMER__MAX_BATCH_SECONDS": "0.2",
    "EVENTLAKE_CONSUMER__POLL_SECONDS": "0.1",
    "EVENTLAKE_CONSUMER__LEASE_SECONDS": "3",
    "EVENTLAKE_CONSUMER__LEASE_RENEW_SECONDS": "0.5",
    # Retries after a failed batch 0.3, 0.6, 1, 1... s apart: back soon after space returns.
    "EVENTLAKE_CONSUMER__RETRY_SECONDS": "0.3",
    "EVENTLAKE_CONSUMER__RETRY_MAX_SECONDS": "1",
}


class SmallDisk:
    """A mounted tmpfs; ``fill`` takes every free byte, ``free`` gives them back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write to a file until the disk refuses a single byte (ENOSPC)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (1 << 20, 4096, 1):
                zeros = bytes(chunk)
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, zeros)
            # Confirm it is full (and not another OSError stopping the loops).
            try:
                os.write(fd, b"\0")
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
            else:
                raise AssertionError(f"{self.path} took another byte after filling")
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()


def _as_root() -> list[str]:
    """How to run mount and umount: directly as root; else through sudo when it asks for no
    password (a GitHub runner's user); else the test fails saying what it needs."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo is not None:
        probe = subprocess.run([sudo, "-n", "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [sudo, "-n"]
    pytest.fail(
        "the disk-full tests mount a small tmpfs (`mount -t tmpfs`), which needs root: run "
        "them as root, as a user with passwordless sudo (as on GitHub's runners), or in a "
        "privileged container",
        pytrace=False,
    )


@contextlib.contextmanager
def small_disk(path: Path) -> Iterator[SmallDisk]:
    """A tmpfs of SIZE mounted on ``path`` (created) for the block, owned by this user;
    unmounted after it."""
    root = _as_root()
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={SIZE},mode=0700,uid={os.getuid()},gid={os.getgid()}"
    mount = [*root, "mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)]
    done = subprocess.run(mount, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"could not mount a tmpfs on {path}: {done.stderr.strip()}", pytrace=False)
    try:
        yield SmallDisk(path)
    finally:
        # Lazy: a child process that has not quite exited must not keep the mount (and the
        # test's temp folder) busy.
        subprocess.run([*root, "umount", "--lazy", str(path)], check=False)


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` every 0.1 s until it is true; fail saying ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


class Child:
    """An ``eventlake`` command as a process, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*EVENTLAKE, *args], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM (the consumer commits the batch in hand), then the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        return self.process.returncode


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "EVENTLAKE_HOME": str(settings.home),
        "EVENTLAKE_API_KEYS": f"disk:{API_KEY}",
        **CONSUMER_ENV,
        **extra,
    }


@contextlib.contextmanager
def api_process(env: dict[str, str], logs: Path) -> Iterator[tuple[httpx.Client, Child]]:
    """``eventlake serve`` on a free port, and a client with the key, for the block."""
    port = free_port()
    api = Child(["serve", "--port", str(port), "--log-level", "warning"], env, logs / "api.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_api(url, api.process, timeout=60)
        with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=30) as client:
            yield client, api
    finally:
        api.stop()


@contextlib.contextmanager
def consumer_process(env: dict[str, str], logs: Path) -> Iterator[Child]:
    consumer = Child(["consume", "--dataset", "events"], env, logs / "consumer.log")
    try:
        yield consumer
    finally:
        consumer.stop()


def body(name: str, events: int = 50) -> bytes:
    """A request's JSON array of ``events`` valid events, their ids prefixed by ``name``."""
    return json.dumps(
        [
            {
                "event_id": f"{name}-{i}",
                "user_id": f"u{i % 7}",
                "event_type": "page_view",
                "event_timestamp": "2026-11-01T12:00:00Z",
            }
            for i in range(events)
        ]
    ).encode()


def ids_of(name: str, events: int = 50) -> list[str]:
    return [f"{name}-{i}" for i in range(events)]


def post(client: httpx.Client, name: str, *, key: bool = True) -> httpx.Response:
    """POST ``body(name)``, with ``name`` as its Idempotency-Key unless ``key`` is False."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = name
    return client.post("/api/v1/ingest", content=body(name), headers=headers)


def lake_ids(settings: Settings) -> list[str]:
    """Every event id in the lake's events table (none if there is no table yet)."""
    lake = Lake(settings)
    try:
        table = lake.table("events")
    except NoSuchTableError:  # the consumer has not created it yet: nothing landed
        return []
    ids = table.scan(selected_fields=("event_id",)).to_arrow()["event_id"].to_pylist()
    return [str(event_id) for event_id in ids]


def tail(*children: Child) -> str:
    """The end of each child's log, for an assertion's message."""
    return "\n".join(f"--- {child.log.name}\n{child.output()[-3000:]}" for child in children)
