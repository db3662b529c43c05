"""Fuzz harnesses for the Python edge, driven by atheris (``make fuzz``) and, as a smoke, by
``test_fuzz_smoke.py`` (seeded random inputs through the same functions):

- ``ingest``: a request as the API hands it to the ingest library: a Content-Type, a
  Content-Encoding, a dataset, an Idempotency-Key or none, and body bytes (gzipped or not, or
  a gzip header on bytes that are not), through ``Ingestor.accept`` on an embedded stream in
  a throwaway home. Only :class:`~eventlake.ingest.IngestError` subclasses may come out (each
  with an HTTP status the API answers), within a time limit.
- ``window``: a saved deduplication window as the state database returns it (the core's
  window bytes, a checksum, a table, a position) through ``WindowStore.load``: it either
  trusts the window or rebuilds an empty one, never raises, and a trusted window saves and
  loads back the same.
- ``http``: a request through the real ASGI app (``http_harness.py``): never a 500, never an
  exception out of the app, never a hang.

Run one by hand: ``.venv/bin/python -m tests.fuzz.harnesses ingest -max_total_time=60``
(libFuzzer's flags; a corpus folder may follow).
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from typing import Any, Protocol

# An input that costs more CPU than this is a hang (the core handles megabytes in milliseconds).
# CPU time, not wall time: on a loaded machine an fsync can wait for seconds. A hang that waits
# rather than spins is libFuzzer's -timeout's (make fuzz sets 10 s).
CPU_LIMIT_SECONDS = 2.0

CONTENT_TYPES: list[str | None] = [
    "application/json",
    "application/x-ndjson",
    "application/jsonl; charset=utf-8",
    "text/csv",
    'TEXT/CSV ; Charset="UTF8"',
    "application/json; charset=latin-1",
    "application/json;charset",
    "text/plain",
    "",
    None,
]
ENCODINGS: list[str | None] = [None, "identity", "gzip", " X-GZIP ", "br", ""]
DATASETS = ["events", "users", "products", "nope"]
# Status codes the API may answer for an IngestError (ingest/errors.py).
INGEST_STATUSES = {400, 404, 409, 413, 415, 422, 503}


class Input:
    """Choices drawn from the front of the fuzzer's bytes; what is left is the body."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def pick(self, options: list[Any]) -> Any:
        byte = self.data[self.at] if self.at < len(self.data) else 0
        self.at += 1
        return options[byte % len(options)]

    def rest(self) -> bytes:
        return self.data[self.at :]


class IngestHarness:
    """``Ingestor.accept`` on the settings' home (a throwaway one: see ``main``)."""

    def __init__(self) -> None:
        from eventlake.config import get_settings
        from eventlake.ingest import Ingestor
        from eventlake.state import open_state

        settings = get_settings()
        self.state = open_state(settings.state_database_url)
        self.ingestor = Ingestor(settings, self.state)
        self.keys = 0

    def __call__(self, data: bytes) -> None:
        from eventlake.ingest import IngestError

        choice = Input(data)
        content_type = choice.pick(CONTENT_TYPES)
        content_encoding = choice.pick(ENCODINGS)
        dataset = choice.pick(DATASETS)
        keyed = choice.pick([False, True])
        # 0: the bytes as they are; 1: gzipped; 2: a gzip header on bytes that are not gzip.
        wrapping = choice.pick([0, 0, 1, 2])
        body = choice.rest()
        if wrapping == 1:
            body = gzip.compress(body, compresslevel=1)
        elif wrapping == 2:
            body = b"\x1f\x8b" + body
        # A fresh key per input: a reused one would only ever replay or conflict.
        self.keys += 1
        key = f"fuzz-{os.getpid()}-{self.keys}" if keyed else None
        started = time.process_time()
        try:
            answer = self.ingestor.accept(
                body,
                dataset=dataset,
                content_type=content_type,
                content_encoding=content_encoding,
                source="fuzz",
                idempotency_key=key,
            )
        except IngestError as error:
            refused: IngestError | None = error
        else:
            refused = None
            counts = answer.body
            assert answer.status_code == 202, answer
            assert counts["received"] == counts["accepted"] + counts["rejected"], counts
            assert counts["accepted"] > 0, counts
        if refused is not None:
            assert refused.status_code in INGEST_STATUSES, (refused, refused.status_code)
            assert refused.code, refused
        spent = time.process_time() - started
        assert spent < CPU_LIMIT_SECONDS, f"{spent:.1f} CPU-s for {len(data)} bytes: {data!r}"

    def close(self) -> None:
        self.ingestor.close()
        self.state.close()


class WindowHarness:
    """``WindowStore.load`` of a saved window the input makes up."""

    TABLE = "table-uuid"

    def __init__(self) -> None:
        from eventlake.config import get_settings
        from eventlake.state import open_state

        self.state = open_state(get_settings().state_database_url)
        self.shards = 0

    def __call__(self, data: bytes) -> None:
        import data_processor_rs

        from eventlake.consumer.window import WindowStore
        from eventlake.state.leases import SavedWindow

        choice = Input(data)
        flags = choice.pick(list(range(256)))
        window_bytes = choice.rest()
        # Mostly a good checksum, table and position, so that the bytes reach the core.
        checksum = zlib.crc32(window_bytes) ^ (1 if flags & 0b111 == 1 else 0)
        table = "another-table" if flags & 0b111 == 2 else self.TABLE
        position = 10
        committed = 5 if flags & 0b111 == 3 else 10
        # The configured capacity: the file's own (so that it can be trusted) or another.
        capacity = 16
        if flags & 0b1000 and len(window_bytes) >= 16:
            capacity = int.from_bytes(window_bytes[8:16], "little") % (1 << 62)
        store = WindowStore(self.state, "group", "stream", self.TABLE, capacity)
        self.shards += 1
        shard = f"shard-{self.shards}"
        self.state.save_window(
            "group", "stream", shard, SavedWindow(table, position, checksum, window_bytes)
        )
        window, seen = store.load(shard, committed)
        assert isinstance(window, data_processor_rs.Deduplicator)
        assert window.capacity == capacity
        if seen is None:
            assert len(window) == 0, "an untrusted window is rebuilt from nothing"
            return
        assert seen == position
        # Trusted: it saves and loads back the same.
        store.save(shard, window, position + 1)
        again, seen_again = store.load(shard, position + 1)
        assert seen_again == position + 1
        assert again.to_bytes() == window.to_bytes()

    def close(self) -> None:
        self.state.close()


class Harness(Protocol):
    def __call__(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def _http_harness() -> Harness:
    # Its own module (it imports this one's helpers): the app driven through ASGI.
    from tests.fuzz.http_harness import HttpHarness

    return HttpHarness()


HARNESSES: dict[str, Callable[[], Harness]] = {
    "ingest": IngestHarness,
    "window": WindowHarness,
    "http": _http_harness,
}


def main() -> None:
    """``python -m tests.fuzz.harnesses NAME [libFuzzer flags and corpus folders]``: atheris
    on one harness, in a throwaway EVENTLAKE_HOME."""
    import atheris

    name, flags = sys.argv[1], sys.argv[2:]
    home = tempfile.mkdtemp(prefix="eventlake-fuzz-")
    os.environ["EVENTLAKE_HOME"] = home
    # Coverage of eventlake's own modules guides the fuzzer (the core is native code: its
    # edges are not seen from here; the cargo-fuzz targets cover it); for the HTTP harness,
    # also the framework's request parsing (headers, forms, routing) the app relies on.
    web = ["starlette", "fastapi"] if name == "http" else []
    with atheris.instrument_imports(include=["eventlake", *web]):
        import eventlake.api.app
        import eventlake.consumer.window
        import eventlake.ingest  # noqa: F401
    harness = HARNESSES[name]()
    atheris.Setup([sys.argv[0], *flags], harness)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
