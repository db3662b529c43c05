"""Rate limiting per API key: a token bucket per key, in this process.

Each request with a key takes a token from that key's bucket; the bucket holds ``burst``
tokens at most and refills at ``per_second``. An empty bucket answers 429 with
``Retry-After``, the seconds until a token is back. The buckets live in the process: with
several workers or hosts each keeps its own, so the limit a key meets is the setting times
the processes it is spread over (a guard against one key swamping a process, not a quota).
Only keys that were recognised are counted, so the table is as small as the key ring.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBuckets:
    def __init__(
        self, per_second: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and room for one token")
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Take a token for ``key``: None when there was one, else the seconds until one is
        back (nothing is taken, so a client that waits that long gets through)."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.per_second
