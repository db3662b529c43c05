"""The request bodies of the load test: JSON arrays of events, as a busy client library sends
them. Plain Python (no locust), so the benchmarks send the same bodies
(benchmarks/bench_routing.py)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta

EVENT_TYPES = ["page_view", "page_view", "page_view", "add_to_cart", "purchase", "search"]


def request_body(rng: random.Random, events: int, start: datetime) -> bytes:
    """``events`` events with ids of their own, timestamps in the day after ``start``."""
    batch = []
    for _ in range(events):
        event_type = rng.choice(EVENT_TYPES)
        batch.append(
            {
                "event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "user_id": f"user-{rng.randrange(5000):05d}",
                "event_type": event_type,
                "event_timestamp": (start + timedelta(seconds=rng.randrange(86_400))).isoformat(),
                "event_value": round(rng.uniform(1, 300), 2) if event_type == "purchase" else None,
                "product_id": f"prod-{rng.randrange(500):04d}",
                "properties": {"page": f"/p/{rng.randrange(100)}", "ab": rng.choice("AB")},
            }
        )
    return json.dumps(batch, separators=(",", ":")).encode()
