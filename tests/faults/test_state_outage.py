"""The state database locked (SQLite: another connection holding a write transaction) or
unreachable (PostgreSQL stopped, then started again) under a running API and consumer, and
when a consumer (``eventlake consume``, a process of its own) starts.

What a user notices is asserted: requests wait or get 503 with Retry-After (then the client's
retry with its Idempotency-Key is taken), /health names the job database while it is down,
the consumer keeps running, and the lake (the judge) holds every acknowledged event once.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from eventlake.config import Settings
from eventlake.lake import Lake
from tests.faults.stack import (
    CONSUMER,
    DEADLINE_S,
    TestClient,
    consumer_process,
    create_app,
    event,
    exactly_once,
    landed_ids,
    lands_once,
    local_api_key,
    running,
    send_events,
    wait_until_alive,
)
from tests.postgres import PostgresServer, create_database, start_postgres

LOCK_S = 3.0  # longer than the consumer's leases (lease_seconds is set to 1 here)
CATALOG_LOCK_S = 6.0  # longer than the SQL catalog's 5 s wait for a lock: its calls fail


@contextmanager
def locked(database: str, seconds: float, until: threading.Event | None = None) -> Iterator[None]:
    """Another process's write transaction on a SQLite file for ``seconds``, from the moment
    the block starts (it runs while the lock is held, and waits for its end on leaving), or
    until ``until`` is set."""
    held = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        held.set()
        (until or threading.Event()).wait(seconds)
        connection.execute("COMMIT")
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    try:
        yield
    finally:
        holder.join(timeout=seconds + 10)


def test_locked_sqlite_state_and_catalog_databases_delay_landing_and_lose_nothing(
    tmp_path: Path,
) -> None:
    consumer = CONSUMER.model_copy(update={"lease_seconds": 1.0, "lease_renew_seconds": 0.2})
    settings = Settings(home=tmp_path / "home", consumer=consumer)
    with running(settings, Lake(settings)) as stack:
        acknowledged = {f"e{i:05d}" for i in range(10)}
        # The job database locked: writers wait (the API's requests up to
        # api.state_busy_timeout_seconds, 2 s, then 503 with Retry-After; the consumer's 30 s),
        # readers do not (WAL): the clients' retries are taken (202) once it is gone; none lost.
        began = time.monotonic()
        with locked(settings.state_database_url.removeprefix("sqlite:///"), LOCK_S):
            sent: list[set[str]] = []
            senders = [
                threading.Thread(target=lambda f=first: sent.append(stack.send(f, 30)))
                for first in (100, 200, 300)
            ]
            for sender in senders:
                sender.start()
            health = stack.api.get("/api/v1/health")
            assert health.json()["checks"]["state"]["ok"], health.text
            for sender in senders:
                sender.join(timeout=60)
        assert time.monotonic() - began >= LOCK_S - 0.5
        for ids in sent:
            acknowledged |= ids
        assert len(acknowledged) == 100
        stack.wait_landed(acknowledged)

        # The SQL catalog locked for longer than it waits: the consumer's commits fail, it says
        # so and retries; the API still takes data; once the lock is gone everything lands.
        acknowledged |= stack.send(400, 30)
        with locked(str(settings.home / "catalog.db"), CATALOG_LOCK_S):
            acknowledged |= stack.send(500, 30)
            stack.wait_for(lambda: bool(stack.failing()), "/health to name the consumer")
        stack.wait_landed(acknowledged)
        stack.wait_for(lambda: not stack.failing(), "the consumer to say it recovered")
        assert stack.consumer.is_alive()
        exactly_once(stack, acknowledged)


def _restart(server: PostgresServer) -> None:
    """Start a stopped cluster again as ``start_postgres`` started it (same port and socket)."""
    options = (
        f"-p {server.port} -k {server.directory / 'socket'} -c listen_addresses='' -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    started = subprocess.run(
        [
            *server.run_as,
            str(server.bin_dir / "pg_ctl"),
            "start",
            "-D",
            str(server.data_dir),
            "-l",
            str(server.directory / "server.log"),
            "-o",
            options,
            "-w",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=90,
    )
    assert started.returncode == 0, started.stdout + started.stderr


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own: it is stopped and started again, which the session's
    shared one (``postgres_server``) must not be."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(server.directory)], check=False)


def test_postgres_down_and_back_gives_503s_then_everything_lands_once(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path / "home",
        state_url=create_database(own_postgres),
        consumer=CONSUMER,
    )
    with running(settings, Lake(settings)) as stack:
        acknowledged = {f"e{i:05d}" for i in range(10)}
        acknowledged |= stack.send(100, 50)  # in the stream; may not have landed yet
        own_postgres.stop()

        # Down: 503 with Retry-After, nothing published; /health names the job database.
        body = [event(f"e{i:05d}") for i in range(200, 250)]
        headers = {"X-API-Key": stack.key, "Idempotency-Key": "during-the-outage"}
        refused = stack.api.post("/api/v1/ingest", json=body, headers=headers)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        health = stack.api.get("/api/v1/health")
        assert health.status_code == 503
        assert not health.json()["checks"]["state"]["ok"]
        time.sleep(2 * CONSUMER.retry_max_seconds)  # the consumer meets the outage too

        _restart(own_postgres)
        # Back: the client's retry is taken, the consumer lands everything, once.
        stack.wait_for(lambda: stack.api.get("/api/v1/health").status_code == 200, "health")
        taken = stack.api.post("/api/v1/ingest", json=body, headers=headers)
        assert taken.status_code == 202, taken.text
        acknowledged |= {e["event_id"] for e in body}
        acknowledged |= stack.send(300, 50)
        stack.wait_landed(acknowledged)
        stack.wait_for(lambda: not stack.failing(), "the consumer to say it recovered")
        assert stack.consumer.is_alive()
        exactly_once(stack, acknowledged)


# --- a consumer started while the state database is out of reach --------------------------


WAITING = "waiting for the state database"


def test_a_consumer_started_while_the_sqlite_state_database_is_locked_waits_thenlands_once(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "home", consumer=CONSUMER)
    lake = Lake(settings)
    log = tmp_path / "consumer.log"
    with TestClient(create_app(settings)) as api:
        key = local_api_key(settings)
        sent = send_events(api, key, 0, 40)  # the stream and the job database exist, nothing landed
        state_db = settings.state_database_url.removeprefix("sqlite:///")
        release = threading.Event()
        with ExitStack() as started:
            with locked(state_db, DEADLINE_S, until=release):
                consumer = started.enter_context(consumer_process(settings, log))
                # Before the fix: a traceback and exit 1 once SQLite's busy timeout ran out.
                wait_until_alive(
                    lambda: log.read_text().count(WAITING) >= 2, "it to say so", consumer
                )
                assert "database is locked" in log.read_text()
                assert state_db in log.read_text()  # which database it waits for
                assert landed_ids(lake) == []
                release.set()
            # The lock is gone: the consumer lands everything, and what comes after.
            sent |= send_events(api, key, 100, 40)
            lands_once(lake, sent, consumer)


def test_a_consumer_started_while_postgres_is_down_waits_thenlands_once(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path / "home", state_url=create_database(own_postgres), consumer=CONSUMER
    )
    lake = Lake(settings)
    log = tmp_path / "consumer.log"
    with TestClient(create_app(settings)) as api:
        key = local_api_key(settings)
        sent = send_events(api, key, 0, 40)
        own_postgres.stop()
        with consumer_process(settings, log) as consumer:
            wait_until_alive(lambda: log.read_text().count(WAITING) >= 3, "it to say so", consumer)
            text = log.read_text()
            database = settings.state_database_url.split("/")[-1].split("?")[0]
            assert "waiting for the state database postgresql+psycopg://" in text
            assert database in text  # which database it waits for
            # Backoff: the pauses it announces grow (0.2 s, 0.4 s, 0.8 s, then 1 s).
            assert "trying again in 0.2 s" in text
            assert "trying again in 0.4 s" in text
            # What an operator sees meanwhile: /health names the job database.
            health = api.get("/api/v1/health")
            assert health.status_code == 503
            assert not health.json()["checks"]["state"]["ok"]
            assert landed_ids(lake) == []

            _restart(own_postgres)
            lands_once(lake, sent, consumer)
            sent |= send_events(api, key, 100, 40)
            lands_once(lake, sent, consumer)
            assert not api.get("/api/v1/health").json()["consumers_failing"]
