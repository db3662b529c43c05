"""A tiny warehouse and lake, good or broken on purpose, in an EVENTLAKE_HOME of their own.

The warehouse is built here with SQL, to the spec dbt builds to (staging and marts schemas in
a DuckDB file), so the gates are tested without dbt (tests/warehouse/test_transform.py
checks that its tables keep dbt's columns and types). The lake gets its events through the real
core and Iceberg commit (``process_file``), so the reconciliation counts a real table.
Each break is in a column no other break touches: a broken warehouse must fail exactly the
expectations its breaks target, and nothing else.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eventlake.config import Settings
from eventlake.contracts import load_contract
from eventlake.lake import Lake
from eventlake.pipeline.process_files import process_file

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

BREAKS = frozenset(
    {
        "null_user_id",  # staging.stg_events.user_id NULL in one row
        "future_timestamp",  # staging.stg_events.event_timestamp two days ahead of now
        "unknown_event_type",  # staging.stg_events.event_type 'teleport'
        "wrong_dtype",  # staging.stg_events.ingested_at stored as VARCHAR
        "negative_value",  # marts.fact_events.event_value -5
        "orphan_user_sk",  # marts.fact_events.user_sk of no dim_users row
        "orphan_product_sk",  # marts.fact_events.product_sk of no dim_products row
        "extra_fact_row",  # marts.fact_events one row more than the lake landed
    }
)

# (suite, expectation, column) each break must fail.
FAILS = {
    "null_user_id": ("staging.stg_events", "expect_column_values_to_not_be_null", "user_id"),
    "future_timestamp": (
        "staging.stg_events",
        "expect_column_values_to_be_between",
        "event_timestamp",
    ),
    "unknown_event_type": (
        "staging.stg_events",
        "expect_column_values_to_be_in_set",
        "event_type",
    ),
    "wrong_dtype": ("staging.stg_events", "expect_column_values_to_be_of_type", "ingested_at"),
    "negative_value": ("marts.fact_events", "expect_column_values_to_be_between", "event_value"),
    "orphan_user_sk": (
        "checks.referential_integrity",
        "expect_column_values_to_be_null",
        "orphan_user_sk",
    ),
    "orphan_product_sk": (
        "checks.referential_integrity",
        "expect_column_values_to_be_null",
        "orphan_product_sk",
    ),
    "extra_fact_row": (
        "checks.lake_reconciliation",
        "expect_column_pair_values_to_be_equal",
        "lake_events = fact_rows",
    ),
}
assert set(FAILS) == BREAKS

GHOST_USER_SK = hashlib.md5(b"ghost-user", usedforsecurity=False).hexdigest()
GHOST_PRODUCT_SK = hashlib.md5(b"ghost-product", usedforsecurity=False).hexdigest()

LAKE_EVENTS = [
    {"event_id": "e1", "user_id": "u1", "event_type": "page_view", "ts": "2026-11-02T10:00:00"},
    {"event_id": "e2", "user_id": "u2", "event_type": "purchase", "ts": "2026-11-02T11:30:00"},
    {"event_id": "e3", "user_id": "u1", "event_type": "add_to_cart", "ts": "2026-11-03T09:15:00"},
    {"event_id": "e4", "user_id": "u2", "event_type": "login", "ts": "2026-11-04T20:45:00"},
]
VALUES = {"e1": None, "e2": 42.5, "e3": 0.0, "e4": None}
PRODUCTS = {"e1": None, "e2": "p1", "e3": "p2", "e4": None}
FUNNEL = {"page_view": 1, "add_to_cart": 2, "purchase": 3}


def sk(*parts: str) -> str:
    return hashlib.md5("|".join(parts).encode(), usedforsecurity=False).hexdigest()


def land_events(settings: Settings, tmp: Path) -> None:
    """The four events through the core into the lake's ``events`` table."""
    lines = [
        json.dumps(
            {
                "event_id": e["event_id"],
                "user_id": e["user_id"],
                "event_type": e["event_type"],
                "event_timestamp": e["ts"] + "Z",
                "event_value": VALUES[e["event_id"]],
                "product_id": PRODUCTS[e["event_id"]],
            }
        )
        for e in LAKE_EVENTS
    ]
    path = tmp / "events.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = process_file(path, load_contract("events"), lake=Lake(settings))
    assert report.landed == len(LAKE_EVENTS), report


def build_warehouse(path: Path, breaks: frozenset[str] = frozenset()) -> None:
    """The staging and mart tables of the spec, with ``breaks`` applied."""
    unknown = breaks - BREAKS
    assert not unknown, unknown
    now = datetime.now(UTC).replace(tzinfo=None)
    ingested = "VARCHAR" if "wrong_dtype" in breaks else "TIMESTAMP"
    user_sks = {"u1": sk("u1", "2026-10-01"), "u2": sk("u2", "2026-10-05")}
    product_sks = {"p1": sk("p1"), "p2": sk("p2")}
    with duckdb.connect(str(path)) as db:
        db.execute("SET TimeZone = 'UTC'")
        db.execute("CREATE SCHEMA staging")
        db.execute("CREATE SCHEMA marts")
        db.execute(
            f"""CREATE TABLE staging.stg_events (
                event_id VARCHAR, user_id VARCHAR, event_type VARCHAR,
                event_timestamp TIMESTAMP, event_date DATE, event_value DOUBLE,
                product_id VARCHAR, properties VARCHAR, job_id VARCHAR, source VARCHAR,
                ingested_at {ingested}, _lake_sequence BIGINT)"""
        )
        for i, e in enumerate(LAKE_EVENTS):
            ts = datetime.fromisoformat(e["ts"])
            user_id: str | None = e["user_id"]
            event_type = e["event_type"]
            if i == 1 and "null_user_id" in breaks:
                user_id = None
            if i == 3 and "future_timestamp" in breaks:
                ts = now + timedelta(days=2)
            if i == 0 and "unknown_event_type" in breaks:
                event_type = "teleport"
            db.execute(
                "INSERT INTO staging.stg_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    e["event_id"],
                    user_id,
                    event_type,
                    ts,
                    ts.date(),
                    VALUES[e["event_id"]],
                    PRODUCTS[e["event_id"]],
                    '{"page": "/"}' if i == 0 else None,
                    "job-1",
                    "test",
                    datetime(2026, 11, 5, 8, 0),
                    1,
                ],
            )
        db.execute(
            """CREATE TABLE staging.stg_users AS SELECT * FROM (VALUES
                ('u1', 'Ada', TIMESTAMP '2026-10-01', TIMESTAMP '2026-10-01',
                 TIMESTAMP '2026-11-05 08:00'),
                ('u1', 'Ada L.', TIMESTAMP '2026-10-01', TIMESTAMP '2026-11-03',
                 TIMESTAMP '2026-11-05 08:00'),
                ('u2', 'Grace', TIMESTAMP '2026-10-05', TIMESTAMP '2026-10-05',
                 TIMESTAMP '2026-11-05 08:00')
            ) AS t(user_id, user_name, created_at, updated_at, ingested_at)"""
        )
        db.execute(
            """CREATE TABLE staging.stg_products AS SELECT * FROM (VALUES
                ('p1', 'Kettle', 'kitchen', 39.0::DOUBLE, TIMESTAMP '2026-11-05 08:00'),
                ('p2', 'Lamp', 'home', 0.0::DOUBLE, TIMESTAMP '2026-11-05 08:00')
            ) AS t(product_id, product_name, category, price, ingested_at)"""
        )
        db.execute(
            f"""CREATE TABLE marts.dim_users AS SELECT * FROM (VALUES
                ('{user_sks["u1"]}', 'u1', 'Ada', TIMESTAMP '2026-10-01',
                 TIMESTAMP '2026-10-01', TIMESTAMP '2026-11-03', false, 1::BIGINT),
                ('{sk("u1", "2026-11-03")}', 'u1', 'Ada L.', TIMESTAMP '2026-10-01',
                 TIMESTAMP '2026-11-03', NULL::TIMESTAMP, true, 2::BIGINT),
                ('{user_sks["u2"]}', 'u2', 'Grace', TIMESTAMP '2026-10-05',
                 TIMESTAMP '2026-10-05', NULL::TIMESTAMP, true, 1::BIGINT)
            ) AS t(user_sk, user_id, user_name, created_at, valid_from, valid_to, is_current,
                   version_number)"""  # noqa: S608 — the test's own rows
        )
        db.execute(
            f"""CREATE TABLE marts.dim_products AS SELECT * FROM (VALUES
                ('{product_sks["p1"]}', 'p1', 'Kettle', 'kitchen', 39.0::DOUBLE),
                ('{product_sks["p2"]}', 'p2', 'Lamp', 'home', 0.0::DOUBLE)
            ) AS t(product_sk, product_id, product_name, category, price)"""  # noqa: S608 — the test's own rows
        )
        db.execute(
            """CREATE TABLE marts.fact_events (
                event_sk VARCHAR, event_id VARCHAR, user_sk VARCHAR, user_id VARCHAR,
                product_sk VARCHAR, product_id VARCHAR, event_timestamp TIMESTAMP,
                event_date DATE, event_type VARCHAR, funnel_step INTEGER, is_revenue BOOLEAN,
                event_value DOUBLE, ingested_at TIMESTAMP, _lake_sequence BIGINT)"""
        )
        facts = list(LAKE_EVENTS)
        if "extra_fact_row" in breaks:
            facts.append(
                {"event_id": "e5", "user_id": "u1", "event_type": "logout", "ts": "2026-11-04"}
            )
        for i, e in enumerate(facts):
            ts = datetime.fromisoformat(e["ts"])
            user_sk = user_sks[e["user_id"]]
            product_id = PRODUCTS.get(e["event_id"])
            product_sk = product_sks[product_id] if product_id else None
            value = VALUES.get(e["event_id"])
            if i == 2 and "orphan_user_sk" in breaks:
                user_sk = GHOST_USER_SK
            if i == 3 and "orphan_product_sk" in breaks:
                product_sk = GHOST_PRODUCT_SK
            if i == 1 and "negative_value" in breaks:
                value = -5.0
            db.execute(
                "INSERT INTO marts.fact_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sk(e["event_id"]),
                    e["event_id"],
                    user_sk,
                    e["user_id"],
                    product_sk,
                    product_id,
                    ts,
                    ts.date(),
                    e["event_type"],
                    FUNNEL.get(e["event_type"]),  # dbt's event_types seed
                    e["event_type"] == "purchase",
                    value,
                    datetime(2026, 11, 5, 8, 0),
                    1,
                ],
            )


def make_home(tmp: Path, breaks: frozenset[str] = frozenset(), *, lake: bool = True) -> Settings:
    """An EVENTLAKE_HOME with the four events in its lake and a warehouse built from them."""
    settings = Settings(home=tmp)
    if lake:
        land_events(settings, tmp)
    build_warehouse(settings.duckdb_path, breaks)
    return settings


@pytest.fixture(scope="module")
def good_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_home(tmp_path_factory.mktemp("good-home"))


@pytest.fixture(scope="module")
def broken_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_home(tmp_path_factory.mktemp("broken-home"), BREAKS)


@dataclass
class Received:
    """What a local webhook was sent."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@dataclass
class Webhook:
    url: str
    received: Received


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A real HTTP server on localhost that records JSON POSTs and answers 200."""
    yield from _serve(200)


@pytest.fixture
def failing_webhook() -> Iterator[Webhook]:
    """A real HTTP server that answers every POST with a 500."""
    yield from _serve(500)


def _serve(status: int) -> Iterator[Webhook]:
    received = Received()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.bodies.append(json.loads(self.rfile.read(length)))
            received.paths.append(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"boom")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield Webhook(f"http://127.0.0.1:{port}/services/T000/B000/s3cr3t-token", received)
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A URL on a localhost port nothing listens on (connection refused)."""
    from tests.ports import free_port

    return f"http://127.0.0.1:{free_port()}/services/T000/B000/s3cr3t-token"
